/**
 * A bronze stream from a Kafka topic (or a folder) into the lakehouse at `root`, availableNow,
 * meant to be killed by a test: it prints `batch <id> <rows>` after each batch and `done` at the
 * end. The pipeline's own bronze query (src/pipeline/stages.ts), not a copy of it.
 *
 *   node --import tsx test/helpers/kafka-bronze-writer.ts <root> <kafka://…/topic | dir> [maxOffsetsPerTrigger]
 */
import { DuckSession } from '../../src/duck/session.js';
import { StreamingQuery } from '../../src/engine/query.js';
import { Trigger } from '../../src/engine/trigger.js';
import { lakehousePaths } from '../../src/pipeline/paths.js';
import { bronzeQuery } from '../../src/pipeline/stages.js';

const [root, source, maxOffsets] = process.argv.slice(2);
if (!root || !source) throw new Error('usage: kafka-bronze-writer <root> <source> [maxOffsetsPerTrigger]');
const session = await DuckSession.create();
const query = new StreamingQuery({
  ...bronzeQuery({
    paths: lakehousePaths(root),
    source,
    session,
    classifier: () => Promise.reject(new Error('bronze needs no model')),
    fileSettleMs: 0,
    kafka: {
      startingOffsets: 'earliest',
      clientId: 'kafka-bronze-test',
      ...(maxOffsets ? { maxOffsetsPerTrigger: Number(maxOffsets) } : {}),
    },
  }),
  trigger: Trigger.availableNow(),
  onProgress: (p) => process.stdout.write(`batch ${p.batchId} ${p.numInputRows}\n`),
});
await query.start();
await query.awaitTermination();
session.close();
process.stdout.write('done\n');
