import { readFileSync } from 'node:fs';

/** The version in package.json (read once at start-up; '0.0.0' when it cannot be found). */
function packageVersion(): string {
  try {
    const url = new URL('../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return '0.0.0';
    throw err;
  }
}

/** This package's version. */
export const TWEETLAKE_VERSION = packageVersion();
