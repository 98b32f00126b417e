import { parentPort, workerData } from 'node:worker_threads';
import * as nodePath from 'node:path';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker-protocol.js';

/** One ONNX session in a worker thread: pads each batch of token ids and returns softmax probabilities. */
async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort!;
  const send = (m: WorkerResponse, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let model: (inputs: Record<string, unknown>) => Promise<{ logits: { data: Float32Array; dims: number[] } }>;
  let tensor: (data: BigInt64Array, dims: number[]) => unknown;
  let labels: string[];
  let padId = 0n;
  try {
    const hf = await import('@huggingface/transformers');
    hf.env.allowRemoteModels = false;
    hf.env.allowLocalModels = true;
    hf.env.localModelPath = nodePath.dirname(init.modelDir);
    const id = nodePath.basename(init.modelDir);
    const m = await hf.AutoModelForSequenceClassification.from_pretrained(id, {
      dtype: init.dtype,
      device: 'cpu',
      session_options: { intraOpNumThreads: init.threads, interOpNumThreads: 1 },
    });
    model = m as unknown as typeof model;
    tensor = (data, dims) => new hf.Tensor('int64', data, dims);
    const config = m.config as unknown as { id2label?: Record<string, string>; pad_token_id?: number };
    const id2label = config.id2label ?? {};
    labels = Object.keys(id2label)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => id2label[k]!);
    padId = BigInt(config.pad_token_id ?? 0);
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
        const { lengths } = msg;
        const rows = lengths.length;
        const width = Math.max(1, ...lengths);
        const ids = new BigInt64Array(rows * width).fill(padId);
        const mask = new BigInt64Array(rows * width);
        for (let r = 0, at = 0; r < rows; r++) {
          for (let c = 0; c < lengths[r]!; c++, at++) {
            ids[r * width + c] = BigInt(msg.ids[at]!);
            mask[r * width + c] = 1n;
          }
        }
        const { logits } = await model({
          input_ids: tensor(ids, [rows, width]),
          attention_mask: tensor(mask, [rows, width]),
        });
        const cols = logits.dims[1]!;
        // softmax in double precision from the float32 logits, as numpy does it in the Python loader
        const probs = new Float64Array(rows * cols);
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
        send(
          {
            type: 'result',
            id: msg.id,
            probabilities: probs,
            computeMs: performance.now() - t0,
            sequenceLength: width,
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
