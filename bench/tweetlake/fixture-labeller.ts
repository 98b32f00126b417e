import type { Classifier, Prediction } from '../../dist/model/classifier.js';

const LABELS = ['NEG', 'NEU', 'POS'] as const;

/**
 * BENCHMARK FIXTURE, not a model: labels a text from its UTF-8 length (n % 3 -> NEG, NEU, POS; score
 * n % 101). It stands in the gold slot of the model-free comparison so that the application stage has
 * deterministic labels that the Spark reference (bench/spark/medallion.py, the same rule as a Spark SQL
 * expression) reproduces exactly. The real model's gold stage is measured separately.
 */
export class LengthFixtureLabeller implements Classifier {
  readonly labels = LABELS;
  readonly info = { name: 'bench-fixture-length-labeller', uri: 'bench:fixture/length-labeller' };

  async classify(texts: string[]): Promise<Prediction[]> {
    return texts.map((t) => {
      const n = Buffer.byteLength(t, 'utf8');
      return { label: LABELS[n % 3]!, score: n % 101 };
    });
  }

  async close(): Promise<void> {}
}
