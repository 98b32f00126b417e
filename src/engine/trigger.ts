/** When a streaming query runs its micro-batches (Spark's Trigger). */
export type Trigger =
  { kind: 'availableNow' } | { kind: 'once' } | { kind: 'processingTime'; intervalMs: number };

export const Trigger = {
  /** Process everything present at start, in as many batches as the limits need, then stop. */
  availableNow: (): Trigger => ({ kind: 'availableNow' }),
  /** One batch of everything present (limits ignored), then stop. */
  once: (): Trigger => ({ kind: 'once' }),
  /** Keep polling: a batch every `intervalMs` (immediately again when a batch takes longer). */
  processingTime: (intervalMs: number): Trigger => ({ kind: 'processingTime', intervalMs }),
};
