import type { Command } from 'commander';
import { DuckSession } from '../duck/session.js';
import { generateSource } from '../pipeline/generate.js';
import { bundledSampleDir } from '../pipeline/config.js';
import { lakehousePaths, TABLE_NAMES } from '../pipeline/paths.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { StateStore } from '../pipeline/state.js';
import { DeltaViews } from '../sql/views.js';
import { parseFormat, renderTable } from './format.js';
import { configFor, lakehouseOptions, positiveInt } from './options.js';

/** `tweetlake streams | stop | clear | sql | generate`. */
export function registerLakehouseCommands(program: Command, out: NodeJS.WritableStream): void {
  lakehouseOptions(
    program
      .command('streams')
      .description('the streams of a running (or the last) `tweetlake run`, with their progress'),
  )
    .option('--format <fmt>', 'table | jsonl', 'table')
    .action(async (opts: { root?: string; config?: string; format: string }) => {
      const config = configFor(opts);
      const states = await new StateStore(lakehousePaths(config.root).state).streams();
      if (parseFormat(opts.format) === 'jsonl') {
        for (const s of states) out.write(`${JSON.stringify(s)}\n`);
        return;
      }
      if (states.length === 0) {
        out.write(`no streams have run in ${config.root}\n`);
        return;
      }
      out.write(
        renderTable(
          states.map((s) => ({
            name: s.name,
            active: s.active,
            status: s.status.message,
            batch: s.lastProgress?.batchId ?? null,
            'input rows': s.lastProgress?.numInputRows ?? null,
            'rows/s': s.lastProgress ? Math.round(s.lastProgress.processedRowsPerSecond) : null,
            'total batches': s.history.length,
            updated: s.updatedAt,
            id: s.id,
          })),
        ),
      );
    });

  lakehouseOptions(
    program
      .command('stop [name]')
      .description('ask a running `tweetlake run` to stop one stream by name, or all'),
  ).action(async (name: string | undefined, opts: { root?: string; config?: string }) => {
    const config = configFor(opts);
    const store = new StateStore(lakehousePaths(config.root).state);
    const active = (await store.streams()).filter((s) => s.active);
    if (name && !active.some((s) => s.name === name)) {
      throw new Error(
        `no active stream named '${name}' (active: ${active.map((s) => s.name).join(', ') || 'none'})`,
      );
    }
    await store.requestStop(name);
    out.write(`asked ${name ?? 'all streams'} to stop after the current batch\n`);
  });

  lakehouseOptions(
    program.command('clear').description('delete the tables, checkpoints and stream state of the lakehouse'),
  )
    .option('--cache', 'also delete the prediction cache (kept otherwise, so a re-run scores nothing again)')
    .action(async (opts: { root?: string; config?: string; cache?: boolean }) => {
      const config = configFor(opts);
      const session = await DuckSession.create();
      try {
        await new Pipeline({
          root: config.root,
          source: config.source,
          session,
          classifier: () => Promise.reject(new Error('unused')),
        }).clear({ predictionCache: !!opts.cache });
      } finally {
        session.close();
      }
      out.write(
        `cleared tables and checkpoints under ${config.root} (models, MLflow runs${opts.cache ? '' : ' and the prediction cache'} kept)\n`,
      );
    });

  lakehouseOptions(
    program
      .command('sql <query>')
      .description(`SQL (DuckDB dialect) over the tables by name: ${TABLE_NAMES.join(', ')}`),
  )
    .option('--format <fmt>', 'table | jsonl', 'table')
    .option('--limit <n>', 'print at most n rows (table format)', '100')
    .action(
      async (query: string, opts: { root?: string; config?: string; format: string; limit: string }) => {
        const config = configFor(opts);
        const paths = lakehousePaths(config.root);
        const session = await DuckSession.create();
        const views = new DeltaViews(session);
        try {
          for (const t of TABLE_NAMES) await views.register(t, paths.tables[t]);
          if (parseFormat(opts.format) === 'jsonl') {
            for await (const chunk of session.stream(`SELECT to_json(q) AS j FROM (${query}) q`)) {
              for (const row of chunk) out.write(`${row.j}\n`);
            }
          } else {
            const limit = positiveInt(opts.limit, '--limit');
            const rows = await session.all(`SELECT * FROM (${query}) q LIMIT ${limit}`);
            out.write(renderTable(rows));
            out.write(`(${rows.length} row${rows.length === 1 ? '' : 's'})\n`);
          }
        } finally {
          await views.dispose();
          session.close();
        }
      },
    );

  program
    .command('generate')
    .description('write a synthetic source by resampling the sample (new users, times and mentions)')
    .requiredOption('--tweets <n>', 'number of tweets')
    .requiredOption('--out <dir>', 'output folder')
    .option('--files <n>', 'number of files', '10')
    .option('--seed <n>', 'random seed', '42')
    .option('--sample <dir>', 'folder to resample (default: the bundled sample)')
    .action(async (opts: { tweets: string; out: string; files: string; seed: string; sample?: string }) => {
      const session = await DuckSession.create();
      try {
        const t0 = performance.now();
        const r = await generateSource(session, {
          sample: opts.sample ?? bundledSampleDir(),
          out: opts.out,
          tweets: positiveInt(opts.tweets, '--tweets'),
          files: positiveInt(opts.files, '--files'),
          seed: Number(opts.seed),
        });
        out.write(
          `wrote ${opts.tweets} tweets in ${r.files.length} files to ${opts.out} in ${Math.round(performance.now() - t0)} ms\n`,
        );
      } finally {
        session.close();
      }
    });
}
