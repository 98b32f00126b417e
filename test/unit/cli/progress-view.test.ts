import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressView } from '../../../src/cli/progress-view.js';
import type { QueryProgress } from '../../../src/engine/progress.js';

/** A stream that says it is a terminal, so the view draws bars; what it draws is kept. */
function terminal(): NodeJS.WriteStream & { text: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { text: () => string };
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  Object.assign(stream, {
    isTTY: true,
    columns: 200,
    rows: 40,
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
  });
  stream.text = () => text;
  return stream;
}

function progress(batchId: number, rows: number): QueryProgress {
  return {
    id: 'q',
    runId: 'r',
    name: 'gold_stream',
    timestamp: new Date().toISOString(),
    batchId,
    numInputRows: rows,
    inputRowsPerSecond: rows,
    processedRowsPerSecond: rows,
    durationMs: {
      latestOffset: 0,
      walCommit: 0,
      getBatch: 0,
      addBatch: 1000,
      commitOffsets: 0,
      triggerExecution: 1000,
    },
    sources: [],
    sink: { description: 'gold', numOutputRows: rows },
    metrics: {},
  };
}

describe('ProgressView on a terminal', () => {
  it('counts gold rows as rows once a batch is done, not as the texts the model scored', async () => {
    const out = terminal();
    const view = new ProgressView(out, { sourceFiles: 1 });
    view.start('gold_stream');
    view.inference(10, 40);
    view.update('gold_stream', progress(0, 42), 1, 42);
    view.stop();
    await new Promise((r) => setImmediate(r));
    const last =
      out
        .text()
        .split(/\r|\n/)
        .filter((l) => l.includes('gold_stream'))
        .at(-1) ?? '';
    expect(last).toMatch(/42\/42 rows/);
    expect(last).not.toMatch(/texts/);
  });
});
