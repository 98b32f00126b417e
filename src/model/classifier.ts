/** The three labels of the sentiment model, in the model's id order. */
export const SENTIMENT_LABELS = ['NEG', 'NEU', 'POS'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

/** A model's opinion of one text. */
export interface Prediction {
  label: string;
  /** Softmax probability of `label`, 0–100. */
  score: number;
  /** Probability of every label, in `labels` order (when asked for). */
  probabilities?: number[];
}

/** Anything that labels texts: the ONNX inference pool, or a stand-in in tests of other layers. */
export interface Classifier {
  readonly labels: readonly string[];
  /** Where the model came from (registry name, version, URI). */
  readonly info: { name: string; version?: string; uri: string };
  classify(texts: string[], options?: { probabilities?: boolean }): Promise<Prediction[]>;
  /** Running totals of the work done, when the classifier keeps them. */
  readonly stats?: {
    texts: number;
    batches: number;
    computeMs: number;
    transferMs: number;
    bytesToWorkers: number;
    bytesFromWorkers: number;
    sequenceLengths: number[];
    batchSizes: number[];
  };
  close(): Promise<void>;
}
