/** The dashboard page: markup and style. Its script is in page-script.ts; vega bundles are served locally. */
export function dashboardHtml(title = 'tweetlake'): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title} dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/vega.min.js"></script>
<script src="/static/vega-lite.min.js"></script>
<script src="/static/vega-embed.min.js"></script>
</head>
<body>
<header>
  <h1>tweetlake</h1>
  <span id="root" class="muted"></span>
  <span id="live" class="badge" data-testid="live">connecting…</span>
  <span id="updated" class="muted"></span>
</header>
<main>
  <section class="counters" data-testid="counters">
    <div class="counter"><div class="value" id="c-tweets" data-testid="tweets">–</div><div class="label">tweets</div></div>
    <div class="counter"><div class="value" id="c-with">–</div><div class="label">with mentions</div></div>
    <div class="counter"><div class="value" id="c-without">–</div><div class="label">without mentions</div></div>
    <div class="counter"><div class="value" id="c-mentions" data-testid="mentions">–</div><div class="label">mentions</div></div>
    <div class="counter"><div class="value" id="c-quarantined">–</div><div class="label">quarantined</div></div>
    <div class="counter"><div class="value" id="c-cache" data-testid="cache-hit-rate">–</div><div class="label">scores from cache</div></div>
  </section>
  <section>
    <h2>Pipeline</h2>
    <div id="graph" data-testid="pipeline-graph"></div>
  </section>
  <section class="grid">
    <div class="card"><div id="chart-topPositive" data-testid="chart-top-positive"></div></div>
    <div class="card"><div id="chart-topNegative" data-testid="chart-top-negative"></div></div>
    <div class="card"><div id="chart-perMention"></div></div>
    <div class="card"><div id="chart-topTweeters"></div><div id="chart-mentionsPresence"></div></div>
  </section>
  <section class="grid">
    <div class="card"><h2>Streams</h2><div id="streams"></div><div id="chart-streamRates"></div><div id="chart-batchDurations"></div></div>
    <div class="card"><h2>Model evaluation</h2><div id="evaluation" data-testid="evaluation"><p class="muted">no evaluation run yet</p></div><div id="chart-confusion"></div></div>
  </section>
  <section class="card">
    <h2>Performance: the five S's</h2>
    <p id="perf-headline" data-testid="perf-headline" class="headline"></p>
    <div id="performance"></div>
  </section>
  <section class="card">
    <h2>Tables</h2>
    <div id="tables"></div>
  </section>
  <section class="card">
    <h2>Data quality</h2>
    <div id="nulls"></div>
  </section>
</main>
<script src="/static/dashboard.js"></script>
</body>
</html>`;
}

export const DASHBOARD_CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
header { display: flex; gap: 16px; align-items: baseline; padding: 12px 24px; background: #1d2330; color: white; }
header h1 { margin: 0; font-size: 22px; }
.muted { color: #8a93a6; font-size: 13px; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #8a93a6; color: white; }
.badge.on { background: #2ca02c; }
main { padding: 16px 24px; display: flex; flex-direction: column; gap: 16px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.counters { display: flex; gap: 12px; }
.counter { background: white; border-radius: 8px; padding: 12px 20px; min-width: 140px; box-shadow: 0 1px 2px #0001; }
.counter .value { font-size: 28px; font-weight: 600; }
.counter .label { color: #5b6478; font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
.card { background: white; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0001; overflow-x: auto; min-width: 0; }
.card > [id^="chart-"] { width: 100%; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eceef2; }
th { color: #5b6478; font-weight: 500; }
.headline { font-weight: 600; }
.section-name { font-weight: 600; text-transform: capitalize; }
#graph svg .node rect { fill: white; stroke: #8a93a6; rx: 6; }
#graph svg .node.active rect { stroke: #2ca02c; stroke-width: 2; }
#graph svg .node.table rect { fill: #eef4fb; }
#graph svg .node.failed rect { stroke: #d62728; stroke-width: 2; }
#graph svg text { font-size: 12px; fill: #1d2330; }
#graph svg .edge { stroke: #8a93a6; stroke-width: 1.5; marker-end: url(#arrow); fill: none; }
`;
