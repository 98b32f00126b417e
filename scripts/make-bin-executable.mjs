// tsc writes its output with mode 0644; the package's `bin` entries must be executable, or
// `npx tweetlake` from the project folder fails with "Permission denied" on a fresh clone.
import { chmodSync, readFileSync, statSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
for (const file of Object.values(pkg.bin ?? {})) {
  const path = new URL(`../${file}`, import.meta.url);
  chmodSync(path, statSync(path).mode | 0o111);
}
