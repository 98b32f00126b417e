import { InvalidTableProperty } from './errors.js';

/** Parses a Delta interval property such as 'interval 1 week' or '7 days' to milliseconds. */
export function parseInterval(text: string): number {
  const m = /^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  if (!m) throw new InvalidTableProperty(`cannot parse interval '${text}' (expected e.g. 'interval 7 days')`);
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase().replace(/s$/, '');
  const ms: Record<string, number> = {
    millisecond: 1,
    second: 1000,
    minute: 60_000,
    hour: 3_600_000,
    day: 86_400_000,
    week: 7 * 86_400_000,
  };
  const factor = ms[unit];
  if (factor === undefined) throw new InvalidTableProperty(`unknown interval unit '${m[2]}' in '${text}'`);
  return n * factor;
}
