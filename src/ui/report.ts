import { renderPng } from '../analytics/render.js';
import type { DashboardState } from './dashboard-state.js';

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fmt = (n: unknown) =>
  n === null || n === undefined
    ? '–'
    : typeof n === 'number'
      ? n.toLocaleString('en-US', { maximumFractionDigits: 3 })
      : String(n);

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '<p><i>nothing yet</i></p>';
  const cols = Object.keys(rows[0]!);
  return `<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${cols.map((c) => `<td>${esc(fmt(r[c]))}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

/** A self-contained HTML report of the lakehouse: counters, charts as PNG, evaluation, the five S's, tables. */
export async function staticReport(state: DashboardState): Promise<string> {
  const images: string[] = [];
  for (const name of [
    'topPositive',
    'topNegative',
    'perMention',
    'topTweeters',
    'mentionsPresence',
    'streamRates',
    'batchDurations',
    'confusion',
  ]) {
    const spec = state.charts[name];
    if (!spec) continue;
    const png = await renderPng(spec, 1.5);
    images.push(`<figure><img alt="${name}" src="data:image/png;base64,${png.toString('base64')}"></figure>`);
  }
  const i = state.insights;
  const e = state.evaluation;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tweetlake report</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#1d2330}table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #ddd}figure{display:inline-block;margin:8px}img{max-width:640px}</style></head><body>
<h1>tweetlake report</h1><p>${esc(state.root)} · ${esc(state.generatedAt)}</p>
<h2>Counters</h2>${table([{ tweets: i.counters.tweets, 'with mentions': i.counters.withMentions, 'without mentions': i.counters.withoutMentions, mentions: i.mentions.distinct, quarantined: i.counters.quarantined }])}
<h2>Who is loved, who is the villain</h2>${images.join('\n')}
<h2>Model evaluation</h2>${
    e
      ? `<p>run ${esc(e.runId)} · ${esc(e.model.uri)} (${esc(e.model.name)} v${esc(e.model.version)}) · silver version ${e.silverVersion} · ${fmt(e.rows)} rows</p>` +
        table(Object.entries(e.metrics).map(([metric, value]) => ({ metric, value })))
      : '<p><i>no evaluation run</i></p>'
  }
<h2>Performance: the five S's</h2><p><b>${esc(state.performance.headline)}</b></p>
${state.performance.sections.map((s) => `<h3>${esc(s.name)}</h3><p>${esc(s.reading)}</p>${s.rows ? table(s.rows) : ''}`).join('\n')}
<h2>Streams</h2>${table(state.streams.map((s) => ({ stream: s.name, batches: s.history.length, 'input rows': s.history.reduce((n, b) => n + b.numInputRows, 0), seconds: s.history.reduce((n, b) => n + b.durationMs, 0) / 1000 })))}
<h2>Tables</h2>${table(state.tables.map((t) => ({ table: t.name, version: t.version, rows: t.rows, files: t.files, bytes: t.bytes })))}
<h2>Data quality</h2>${table(i.nullCounts)}
<h2>Top mentions</h2>${table(i.perMention.slice(0, 50))}
</body></html>`;
}
