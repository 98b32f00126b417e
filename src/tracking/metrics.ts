/** Classification metrics from a confusion matrix (rows: given label, columns: predicted label). */
export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  labels: string[];
  matrix: number[][];
  accuracy: number;
  perClass: ClassMetrics[];
  macro: { precision: number; recall: number; f1: number };
  weighted: { precision: number; recall: number; f1: number };
  total: number;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Precision, recall, F1 (per class, macro and support-weighted) and accuracy of a confusion matrix. */
export function classificationReport(labels: string[], matrix: number[][]): ClassificationReport {
  const n = labels.length;
  const total = matrix.flat().reduce((s, x) => s + x, 0);
  let correct = 0;
  const perClass: ClassMetrics[] = labels.map((label, i) => {
    const tp = matrix[i]![i]!;
    correct += tp;
    const predicted = matrix.reduce((s, row) => s + row[i]!, 0);
    const support = matrix[i]!.reduce((s, x) => s + x, 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    return { label, precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  const mean = (k: 'precision' | 'recall' | 'f1') => perClass.reduce((s, c) => s + c[k], 0) / n;
  const weightedMean = (k: 'precision' | 'recall' | 'f1') =>
    ratio(
      perClass.reduce((s, c) => s + c[k] * c.support, 0),
      total,
    );
  return {
    labels,
    matrix,
    accuracy: ratio(correct, total),
    perClass,
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    weighted: {
      precision: weightedMean('precision'),
      recall: weightedMean('recall'),
      f1: weightedMean('f1'),
    },
    total,
  };
}

/**
 * The original notebook's binary view: positive is the positive class, negative the negative one.
 * Rows whose given or predicted label is neutral are left out (the policy is recorded as a param).
 */
export function binaryReport(labels: string[], matrix: number[][], positive = 'POS', negative = 'NEG') {
  const p = labels.indexOf(positive);
  const q = labels.indexOf(negative);
  const tp = matrix[p]![p]!;
  const fn = matrix[p]![q]!;
  const fp = matrix[q]![p]!;
  const tn = matrix[q]![q]!;
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    accuracy: ratio(tp + tn, tp + tn + fp + fn),
    support: tp + tn + fp + fn,
    neutralPolicy:
      'excluded: rows with a neutral given or predicted label are left out of the binary metrics',
  };
}

/** What an evaluation run produced, as the dashboard and report show it. */
export interface EvaluationSummary {
  runId: string;
  experimentName: string;
  /** Where the run was logged: a folder (local store) or a server URL. */
  trackingUri: string;
  /** Link to the run in the MLflow UI, when a server is configured. */
  runUrl?: string;
  timestamp: string;
  model: { name: string; version?: string; uri: string };
  silverVersion: number;
  goldVersion: number;
  rows: number;
  labels: string[];
  matrix: number[][];
  metrics: Record<string, number>;
  params: Record<string, string>;
}
