import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium, as `.ci/run` (or `npm test`'s pretest) installs it. */
export const CHROMIUM = process.env.TWEETLAKE_CHROMIUM ?? '/usr/bin/chromium';

/** Launches headless Chromium with the flags this sandbox needs (no background networking). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's 'chromium' package (scripts/ensure-chromium.sh does it) or set TWEETLAKE_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
