// Prints the shell commands of README.md's "Two commands" section, NUL-separated, for .ci/run (the same
// extraction as test/e2e/readme.test.ts: CI runs exactly what the README tells a user to type).
import { readFileSync } from 'node:fs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('## Two commands');
if (start < 0) throw new Error('README.md has no "## Two commands" section');
const section = readme.slice(start, readme.indexOf('\n## ', start + 5));
const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].trim());
if (commands.length !== 2) throw new Error(`README.md's "Two commands" has ${commands.length} commands`);
process.stdout.write(commands.map((c) => `${c}\0`).join(''));
