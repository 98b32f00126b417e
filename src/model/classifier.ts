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
  readonly stats?: ClassifierStats;
  close(): Promise<void>;
}

/** Running totals of a classifier's work (texts, batches, time, bytes moved, batch shapes). */
export interface ClassifierStats {
  texts: number;
  batches: number;
  computeMs: number;
  /** Time batches spent outside model computation: queueing, copying, the network. */
  transferMs: number;
  bytesToWorkers: number;
  bytesFromWorkers: number;
  sequenceLengths: number[];
  batchSizes: number[];
}

/** Totals before any work. */
export function emptyClassifierStats(): ClassifierStats {
  return {
    texts: 0,
    batches: 0,
    computeMs: 0,
    transferMs: 0,
    bytesToWorkers: 0,
    bytesFromWorkers: 0,
    sequenceLengths: [],
    batchSizes: [],
  };
}
