/**
 * The status page: static HTML and a few lines of script polling `/status.json` once a
 * second. No framework, no build step, nothing fetched from elsewhere.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sturdy example — status</title>
<style>
  :root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  .meta { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8884; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; color: var(--muted); }
  td.num, th.num { text-align: right; }
  .badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; color: #fff; font-weight: 600; }
  .closed { background: var(--ok); } .half-open { background: var(--warn); } .open, .isolated { background: var(--bad); }
  .err { color: var(--bad); font-weight: 600; }
  code { font-size: .85em; }
  .empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<h1>Sturdy example — live status</h1>
<div class="meta">service <b id="service">…</b> · window <span id="window">…</span> s · updated <span id="updated">never</span></div>

<h2>Routes</h2>
<table id="routes"><thead><tr><th>service</th><th>route</th><th class="num">req/s</th><th class="num">errors</th><th class="num">p99</th><th class="num">total</th></tr></thead><tbody></tbody></table>

<h2>Dependencies</h2>
<table id="dependencies"><thead><tr><th>dependency</th><th>breaker</th><th class="num">retries (window)</th><th class="num">give-ups (window)</th><th class="num">retry budget left</th></tr></thead><tbody></tbody></table>

<h2>Fault injection</h2>
<table id="chaos"><thead><tr><th>name</th><th>kind</th><th>enabled</th><th class="num">rate</th><th>routes</th></tr></thead><tbody></tbody></table>

<h2>Recent slow or failed requests</h2>
<table id="slow"><thead><tr><th>when</th><th>service</th><th>span</th><th class="num">ms</th><th class="num">status</th><th>trace id</th></tr></thead><tbody></tbody></table>

<script>
const $ = (id) => document.querySelector('#' + id + ' tbody')
const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch])
const fmt = (n, d = 1) => (n === null || n === undefined ? '–' : Number(n).toFixed(d))
function rows(id, items, render, cols) {
  $(id).innerHTML = items.length === 0 ? '<tr><td class="empty" colspan="' + cols + '">none yet</td></tr>' : items.map(render).join('')
}
async function refresh() {
  try {
    const res = await fetch('status.json', { cache: 'no-store' })
    const s = await res.json()
    document.getElementById('service').textContent = s.service
    document.getElementById('window').textContent = fmt(s.windowS, 0)
    document.getElementById('updated').textContent = new Date(s.at).toLocaleTimeString()
    rows('routes', s.routes, (r) =>
      '<tr data-route="' + esc(r.method + ' ' + r.route) + '" data-service="' + esc(r.service) + '">' +
      '<td>' + esc(r.service) + '</td><td><code>' + esc(r.method + ' ' + r.route) + '</code></td>' +
      '<td class="num rps">' + fmt(r.rps, 2) + '</td>' +
      '<td class="num' + (r.errorRate > 0 ? ' err' : '') + '">' + (r.errorRate === null ? '–' : fmt(r.errorRate * 100) + ' %') + '</td>' +
      '<td class="num">' + (r.p99Ms === null ? '–' : fmt(r.p99Ms) + ' ms') + '</td>' +
      '<td class="num total">' + r.total + '</td></tr>', 6)
    rows('dependencies', s.dependencies, (d) =>
      '<tr data-dependency="' + esc(d.name) + '"><td>' + esc(d.name) + ' <span class="meta">' + esc(d.origin) + '</span></td>' +
      '<td><span class="badge ' + esc(d.breaker) + '">' + esc(d.breaker) + '</span>' +
      (d.retryAfterMs > 0 ? ' <span class="meta">retry in ' + fmt(d.retryAfterMs / 1000) + ' s</span>' : '') + '</td>' +
      '<td class="num">' + d.retries + '</td><td class="num">' + d.giveUps + '</td><td class="num">' + d.budgetAvailable + '</td></tr>', 5)
    rows('chaos', s.chaos || [], (f) =>
      '<tr><td>' + esc(f.name) + '</td><td>' + esc(f.kind) + '</td><td>' + (f.enabled ? '<b class="err">on</b>' : 'off') + '</td>' +
      '<td class="num">' + fmt(f.injectionRate * 100) + ' %</td><td><code>' + esc((f.routes || []).join(', ')) + '</code></td></tr>', 5)
    rows('slow', s.slowTraces, (t) =>
      '<tr><td>' + new Date(t.endedAt).toLocaleTimeString() + '</td><td>' + esc(t.service) + '</td><td>' + esc(t.name) + '</td>' +
      '<td class="num">' + fmt(t.durationMs) + '</td><td class="num' + (t.error ? ' err' : '') + '">' + (t.status ?? '–') + '</td>' +
      '<td><code>' + esc(t.traceId) + '</code></td></tr>', 6)
  } catch (e) {
    document.getElementById('updated').textContent = 'unreachable (' + e.message + ')'
  }
}
refresh()
setInterval(refresh, 1000)
</script>
</body>
</html>
`
