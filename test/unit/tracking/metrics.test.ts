import { describe, expect, it } from 'vitest';
import { binaryReport, classificationReport } from '../../../src/tracking/metrics.js';

// Rows: given NEG, NEU, POS; columns: predicted NEG, NEU, POS.
const LABELS = ['NEG', 'NEU', 'POS'];
const M = [
  [50, 10, 2],
  [8, 30, 5],
  [1, 4, 40],
];

describe('classification metrics against a confusion matrix computed by hand', () => {
  const r = classificationReport(LABELS, M);

  it('accuracy = trace / total = 120 / 150', () => {
    expect(r.total).toBe(150);
    expect(r.accuracy).toBeCloseTo(120 / 150, 12);
  });

  it('per class: precision = tp / column sum, recall = tp / row sum, F1 = harmonic mean', () => {
    // NEG: tp 50, predicted 59, given 62
    expect(r.perClass[0]).toMatchObject({ label: 'NEG', support: 62 });
    expect(r.perClass[0]!.precision).toBeCloseTo(50 / 59, 12);
    expect(r.perClass[0]!.recall).toBeCloseTo(50 / 62, 12);
    expect(r.perClass[0]!.f1).toBeCloseTo((2 * (50 / 59) * (50 / 62)) / (50 / 59 + 50 / 62), 12);
    // NEU: tp 30, predicted 44, given 43
    expect(r.perClass[1]!.precision).toBeCloseTo(30 / 44, 12);
    expect(r.perClass[1]!.recall).toBeCloseTo(30 / 43, 12);
    // POS: tp 40, predicted 47, given 45
    expect(r.perClass[2]!.precision).toBeCloseTo(40 / 47, 12);
    expect(r.perClass[2]!.recall).toBeCloseTo(40 / 45, 12);
  });

  it('macro = unweighted mean, weighted = support-weighted mean', () => {
    expect(r.macro.recall).toBeCloseTo((50 / 62 + 30 / 43 + 40 / 45) / 3, 12);
    expect(r.weighted.recall).toBeCloseTo(r.accuracy, 12); // support-weighted recall is accuracy
    expect(r.macro.precision).toBeCloseTo((50 / 59 + 30 / 44 + 40 / 47) / 3, 12);
  });

  it('the binary view keeps only given and predicted in {POS, NEG}: tp 40, fn 1, fp 2, tn 50', () => {
    const b = binaryReport(LABELS, M);
    expect(b.support).toBe(93);
    expect(b.precision).toBeCloseTo(40 / 42, 12);
    expect(b.recall).toBeCloseTo(40 / 41, 12);
    expect(b.accuracy).toBeCloseTo(90 / 93, 12);
    expect(b.f1).toBeCloseTo((2 * (40 / 42) * (40 / 41)) / (40 / 42 + 40 / 41), 12);
    expect(b.neutralPolicy).toMatch(/neutral/);
  });

  it('empty classes give 0, not NaN', () => {
    const z = classificationReport(LABELS, [
      [0, 0, 0],
      [0, 5, 0],
      [0, 0, 0],
    ]);
    expect(z.perClass[0]).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(z.accuracy).toBe(1);
  });
});
