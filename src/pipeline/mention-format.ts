import type { DuckSession } from '../duck/session.js';
import { DeltaTable } from '../delta/table.js';
import { TweetlakeError } from '../errors.js';
import type { LakehousePaths } from './paths.js';

/** The lakehouse holds mentions in an older tweetlake's format (`united`, not `@united`). */
export class LegacyMentionFormat extends TweetlakeError {
  constructor(root: string, example: string) {
    super(
      'LEGACY_MENTION_FORMAT',
      `the tables in ${root} were written by an older tweetlake that stored mentions without '@' ` +
        `('${example}'; mentions are now '@' + the handle, '@${example}'). New rows would not merge with ` +
        `them: rebuild the lakehouse with \`tweetlake run --clear\` (the source files are read again)`,
      { domain: 'user' },
    );
  }
}

/**
 * Refuses a lakehouse whose application table has a mention without '@' (the old format). The
 * application table has one row per mention, so this reads little.
 */
export async function checkMentionFormat(session: DuckSession, paths: LakehousePaths): Promise<void> {
  const app = await DeltaTable.forPath(paths.tables.application, session);
  if (!(await app.exists())) return;
  const plan = await app.scan();
  try {
    const [row] = await session.all(
      `SELECT mention FROM (${plan.sql}) WHERE mention IS NOT NULL AND NOT starts_with(mention, '@') LIMIT 1`,
    );
    if (row) throw new LegacyMentionFormat(paths.root, String(row.mention));
  } finally {
    await plan.dispose();
  }
}
