/**
 * A writer process for the S3 commit race: `count` times, finds the latest version in `_delta_log/`
 * by listing and claims the next one with putIfAbsent (on ObjectExists: the next one again), as the
 * Delta commit protocol does. Connection settings come from the standard AWS variables. Prints one
 * JSON line: { writer, versions, conflicts }.
 *
 *   node --import tsx test/helpers/s3-commit-writer.ts <s3-url> <writer> <count> [startAt]
 */
import { ObjectExists } from '../../src/storage/index.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';

const [url, writer, countText, startAt] = process.argv.slice(2);
if (!url || !writer || !countText)
  throw new Error('usage: s3-commit-writer <s3-url> <writer> <count> [startAt]');
const store = new S3ObjectStore(url);
const name = (v: number) => `_delta_log/${String(v).padStart(20, '0')}.json`;
await store.list('_delta_log/'); // warm up the connection before the start signal
const wait = Number(startAt ?? 0) - Date.now();
if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

const versions: number[] = [];
let conflicts = 0;
let next = 0;
for (let seq = 0; seq < Number(countText); seq++) {
  for (;;) {
    const newer = await store.listFrom('_delta_log', next === 0 ? '_delta_log/' : name(next - 1));
    const latest = newer.at(-1);
    if (latest) next = Number(/(\d+)\.json$/.exec(latest.path)![1]) + 1;
    try {
      await store.putIfAbsent(name(next), JSON.stringify({ writer, seq }));
      versions.push(next++);
      break;
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
      conflicts++;
    }
  }
}
store.close();
process.stdout.write(JSON.stringify({ writer, versions, conflicts }) + '\n');
