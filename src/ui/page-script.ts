/** The dashboard's browser script (plain JS, no build step): renders the state pushed over SSE. */
export const DASHBOARD_JS = String.raw`
'use strict';
const specs = {};
const fmt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
function table(rows, cols) {
  if (!rows || rows.length === 0) return '<p class="muted">nothing yet</p>';
  cols = cols || Object.keys(rows[0]);
  return '<table><tr>' + cols.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr>' +
    rows.map((r) => '<tr>' + cols.map((c) => '<td>' + esc(typeof r[c] === 'number' ? fmt(Math.round(r[c] * 1000) / 1000) : r[c]) + '</td>').join('') + '</tr>').join('') + '</table>';
}
function graph(state) {
  const streams = Object.fromEntries(state.streams.map((s) => [s.name, s]));
  const tables = Object.fromEntries(state.tables.map((t) => [t.name, t]));
  const chain = [
    ['source', 'files'], ['bronze_stream', 'stream'], ['bronze', 'table'], ['silver_stream', 'stream'], ['silver', 'table'],
    ['gold_stream', 'stream'], ['gold', 'table'], ['application_stream', 'stream'], ['application', 'table'],
  ];
  const w = 118, h = 58, gap = 22;
  let svg = '<svg width="' + (chain.length * (w + gap)) + '" height="' + (h * 2 + 40) + '"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8a93a6"/></marker></defs>';
  chain.forEach(([name, kind], i) => {
    const x = i * (w + gap), y = 8;
    let lines = [name];
    let cls = 'node ' + kind;
    if (kind === 'stream') {
      const s = streams[name];
      if (s && s.active) cls += ' active';
      if (s && s.error) cls += ' failed';
      lines.push(s ? (s.active ? s.status.message.slice(0, 18) : (s.error ? 'failed' : 'stopped')) : 'not started');
      lines.push(s && s.lastProgress ? 'batch ' + s.lastProgress.batchId + ' · ' + fmt(Math.round(s.lastProgress.processedRowsPerSecond)) + '/s' : '');
    } else if (kind === 'table') {
      const t = tables[name];
      lines.push(t && t.exists ? fmt(t.rows) + ' rows' : 'not created');
      lines.push(t && t.exists ? 'v' + t.version + ' · ' + t.files + ' files' : '');
    } else {
      lines.push(state.performance.sections[1].figures.sourceFiles + ' files');
    }
    svg += '<g class="' + cls + '" data-node="' + name + '"><rect x="' + x + '" y="' + y + '" width="' + w + '" height="' + h + '"/>' +
      lines.map((l, k) => '<text x="' + (x + 6) + '" y="' + (y + 16 + k * 15) + '"' + (k === 0 ? ' font-weight="600"' : '') + '>' + esc(l) + '</text>').join('') + '</g>';
    if (i > 0) svg += '<path class="edge" d="M' + (x - gap) + ',' + (y + h / 2) + ' L' + x + ',' + (y + h / 2) + '"/>';
  });
  const q = tables.quarantine;
  const bx = 1 * (w + gap);
  svg += '<g class="node table" data-node="quarantine"><rect x="' + bx + '" y="' + (h + 30) + '" width="' + w + '" height="' + (h - 14) + '"/><text x="' + (bx + 6) + '" y="' + (h + 46) + '" font-weight="600">quarantine</text><text x="' + (bx + 6) + '" y="' + (h + 61) + '">' + (q && q.exists ? fmt(q.rows) + ' rows' : 'empty') + '</text></g>';
  svg += '<path class="edge" d="M' + (bx + w / 2) + ',' + (8 + h) + ' L' + (bx + w / 2) + ',' + (h + 30) + '"/>';
  return svg + '</svg>';
}
// Charts fill their card's width, axes and legends included (a fixed width clipped the legends of
// the wider charts on narrower screens); the square confusion matrix keeps its size.
const FIXED_SIZE = new Set(['confusion']);
async function chart(name, spec) {
  const el = document.getElementById('chart-' + name);
  if (!el || !spec) return;
  const text = JSON.stringify(spec);
  if (specs[name] === text) return;
  specs[name] = text;
  const sized = FIXED_SIZE.has(name)
    ? spec
    : Object.assign({}, spec, { width: 'container', autosize: { type: 'fit-x', contains: 'padding', resize: true } });
  await vegaEmbed(el, sized, { actions: false, renderer: 'svg' });
  el.setAttribute('data-rendered', String(Date.now()));
}
function render(state) {
  const i = state.insights;
  document.getElementById('root').textContent = state.root;
  document.getElementById('updated').textContent = 'updated ' + new Date(state.generatedAt).toLocaleTimeString();
  document.getElementById('c-tweets').textContent = fmt(i.counters.tweets);
  document.getElementById('c-with').textContent = fmt(i.counters.withMentions);
  document.getElementById('c-without').textContent = fmt(i.counters.withoutMentions);
  document.getElementById('c-mentions').textContent = fmt(i.mentions.distinct);
  document.getElementById('c-quarantined').textContent = fmt(i.counters.quarantined);
  const pc = state.predictionCache;
  document.getElementById('c-cache').textContent = pc && pc.distinctTexts > 0 ? (pc.hitRate * 100).toFixed(1) + '%' : '–';
  document.getElementById('c-cache').title = pc ? fmt(pc.cachedTexts) + ' of ' + fmt(pc.distinctTexts) + ' distinct texts; ' + fmt(pc.entries) + ' scores cached' : '';
  document.getElementById('graph').innerHTML = graph(state);
  document.getElementById('streams').innerHTML = table(state.streams.map((s) => ({
    stream: s.name, active: s.active ? 'yes' : 'no', batches: s.history.length,
    'input rows': s.history.reduce((n, b) => n + b.numInputRows, 0),
    'last rows/s': s.lastProgress ? Math.round(s.lastProgress.processedRowsPerSecond) : null,
    'last batch ms': s.lastProgress ? s.lastProgress.durationMs.triggerExecution : null,
  })));
  document.getElementById('tables').innerHTML = table(state.tables.map((t) => ({
    table: t.name, version: t.version, rows: t.rows, files: t.files, bytes: t.bytes,
    'last operations': t.history.slice(0, 4).map((h) => 'v' + h.version + ' ' + h.operation).join(', '),
  })));
  document.getElementById('nulls').innerHTML = table(i.nullCounts) + '<p class="muted">' + fmt(i.distinctUsers) + ' distinct users</p>';
  const p = state.performance;
  document.getElementById('perf-headline').textContent = p.headline;
  document.getElementById('performance').innerHTML = p.sections.map((s) =>
    '<p><span class="section-name">' + esc(s.name) + '</span>: ' + esc(s.reading) + '</p>' + (s.rows ? table(s.rows) : '')).join('');
  const e = state.evaluation;
  if (e) {
    const m = e.metrics;
    document.getElementById('evaluation').innerHTML =
      '<p>run <code>' + esc(e.runId) + '</code> · model ' + esc(e.model.name) + (e.model.version ? ' v' + esc(e.model.version) : '') +
      ' · silver v' + e.silverVersion + ' · ' + fmt(e.rows) + ' rows' +
      (e.runUrl ? ' · <a href="' + esc(e.runUrl) + '" target="_blank">open in MLflow</a>' : (state.mlflowUrl ? ' · <a href="' + esc(state.mlflowUrl) + '" target="_blank">MLflow UI</a>' : '')) + '</p>' +
      table(Object.keys(m).filter((k) => !k.includes('_class_')).map((k) => ({ metric: k, value: m[k] })));
  }
  for (const [name, spec] of Object.entries(state.charts)) chart(name, spec);
  document.body.setAttribute('data-state-at', state.generatedAt);
}
const live = document.getElementById('live');
function connect() {
  const es = new EventSource('/api/events');
  es.onopen = () => { live.textContent = 'live'; live.classList.add('on'); };
  es.onmessage = (ev) => render(JSON.parse(ev.data));
  es.onerror = () => { live.textContent = 'reconnecting…'; live.classList.remove('on'); };
}
fetch('/api/state').then((r) => r.json()).then(render).finally(connect);
`;
