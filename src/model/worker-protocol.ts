/** Messages between the inference pool and its workers: tagged unions matched by request id. */

export interface WorkerInit {
  /** Folder holding config.json, tokenizer files and onnx/ (the Hugging Face layout). */
  modelDir: string;
  /** 'q8' loads onnx/model_quantized.onnx, 'fp32' onnx/model.onnx. */
  dtype: 'q8' | 'fp32';
  /** Intra-op threads of this worker's ONNX session. */
  threads: number;
  /** Tokens per text at most (longer texts are truncated). */
  maxLength: number;
}

export type WorkerRequest =
  /** One batch of tokenized texts: `lengths[i]` ids of text i, one after the other in `ids`. */
  | { type: 'classify'; id: number; ids: Int32Array; lengths: Int32Array }
  | { type: 'shutdown' }
  /** Fault injection: exit on the next classify request (see InferencePool.injectCrash). */
  | { type: 'crash-next' }
  /** Fault injection: answer the next `count` classify requests with an error (InferencePool.injectFailures). */
  | { type: 'fail-next'; count: number };

export type WorkerResponse =
  | { type: 'ready'; labels: string[] }
  | {
      type: 'result';
      id: number;
      /** Row-major probabilities, texts × labels (softmax in double precision). */
      probabilities: Float64Array;
      /** Time the worker spent building the tensors and running the model. */
      computeMs: number;
      /** Padded sequence length of the batch. */
      sequenceLength: number;
    }
  | { type: 'error'; id: number; message: string }
  | { type: 'fatal'; message: string };
