// Dev smoke run of the pipeline with a stand-in classifier (label by text length); not a test.
import { rmSync } from 'node:fs';
import { DuckSession } from '../../src/duck/session.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Classifier } from '../../src/model/classifier.js';

const root = '/tmp/lh-smoke';
rmSync(root, { recursive: true, force: true });
const stub: Classifier = {
  labels: ['NEG', 'NEU', 'POS'],
  info: { name: 'stub', uri: 'stub' },
  classify: async (texts) => texts.map((t) => ({ label: ['NEG', 'NEU', 'POS'][t.length % 3]!, score: 50 })),
  close: async () => {},
};
const session = await DuckSession.create();
const orchestration = (process.argv[2] ?? 'sequential') as 'sequential' | 'concurrent';
const p = new Pipeline({
  root,
  source: process.argv[3] ?? 'data/sample',
  session,
  orchestration,
  maxFilesPerTrigger: Number(process.argv[4] ?? 5),
  pollIntervalMs: 200,
  classifier: async () => stub,
  onProgress: (s, pr) =>
    console.log(
      s,
      pr.batchId,
      pr.numInputRows,
      pr.sink.numOutputRows,
      Math.round(pr.processedRowsPerSecond),
      JSON.stringify(pr.metrics),
    ),
});
const t0 = Date.now();
const summary = await p.run();
console.log(JSON.stringify(summary.tables), Date.now() - t0, 'ms');
