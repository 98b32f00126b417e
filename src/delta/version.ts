import { readFileSync } from 'node:fs';

function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** This package's version. */
export const TWEETLAKE_VERSION = packageVersion();
/** What commits record as `engineInfo`. */
export const ENGINE_INFO = `tweetlake/${TWEETLAKE_VERSION}`;
