import { parentPort, workerData } from 'node:worker_threads';
import * as nodePath from 'node:path';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker-protocol.js';

/** One ONNX session in a worker thread: tokenizes with dynamic padding and returns softmax probabilities. */
async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort!;
  const send = (m: WorkerResponse, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let tokenizer: (texts: string[], o: object) => Record<string, unknown>;
  let model: (inputs: Record<string, unknown>) => Promise<{ logits: { data: Float32Array; dims: number[] } }>;
  let labels: string[];
  try {
    const hf = await import('@huggingface/transformers');
    hf.env.allowRemoteModels = false;
    hf.env.allowLocalModels = true;
    hf.env.localModelPath = nodePath.dirname(init.modelDir);
    const id = nodePath.basename(init.modelDir);
    const tok = await hf.AutoTokenizer.from_pretrained(id);
    const m = await hf.AutoModelForSequenceClassification.from_pretrained(id, {
      dtype: init.dtype,
      device: 'cpu',
      session_options: { intraOpNumThreads: init.threads, interOpNumThreads: 1 },
    });
    tokenizer = tok as unknown as typeof tokenizer;
    model = m as unknown as typeof model;
    const id2label = (m.config as unknown as { id2label?: Record<string, string> }).id2label ?? {};
    labels = Object.keys(id2label)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => id2label[k]!);
  } catch (err) {
    send({ type: 'fatal', message: `cannot load the model in ${init.modelDir}: ${(err as Error).message}` });
    return;
  }
  send({ type: 'ready', labels });
  let crashNext = false;
  let failNext = 0;
  port.on('message', (msg: WorkerRequest) => {
    if (msg.type === 'shutdown') {
      port.close();
      return;
    }
    if (msg.type === 'crash-next') {
      crashNext = true;
      return;
    }
    if (msg.type === 'fail-next') {
      failNext = msg.count;
      return;
    }
    if (crashNext) process.exit(1);
    if (failNext > 0) {
      failNext--;
      send({ type: 'error', id: msg.id, message: 'injected failure' });
      return;
    }
    void (async () => {
      const t0 = performance.now();
      try {
        const inputs = tokenizer(msg.texts, { padding: true, truncation: true, max_length: init.maxLength });
        const { logits } = await model(inputs);
        const [rows, cols] = logits.dims as [number, number];
        const probs = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          let max = -Infinity;
          for (let c = 0; c < cols; c++) max = Math.max(max, logits.data[r * cols + c]!);
          let sum = 0;
          for (let c = 0; c < cols; c++) {
            const e = Math.exp(logits.data[r * cols + c]! - max);
            probs[r * cols + c] = e;
            sum += e;
          }
          for (let c = 0; c < cols; c++) probs[r * cols + c] = probs[r * cols + c]! / sum;
        }
        const ids = inputs.input_ids as { dims: number[] };
        send(
          {
            type: 'result',
            id: msg.id,
            probabilities: probs,
            computeMs: performance.now() - t0,
            sequenceLength: ids.dims[1] ?? 0,
          },
          [probs.buffer as ArrayBuffer],
        );
      } catch (err) {
        send({ type: 'error', id: msg.id, message: (err as Error).message });
      }
    })();
  });
}

void main();
