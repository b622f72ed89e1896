// The rusm dashboard: one WebSocket to the node (protocol in docs/dashboard.md),
// a benchmark view fed by bench_* events and a live observer fed by snapshots.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

// ---- wire types (see docs/dashboard.md)
interface Scenario { name: string; summary: string }
interface Pctl { count: number; p50: number; p95: number; p99: number; p999: number; max: number }
interface ReportRow { metric: string; value: number; unit: string; baseline?: number; baseline_name?: string; ratio?: number; higher_is_better: boolean; note?: string }
interface Report { scenario: string; summary: string; rows: ReportRow[]; notes: string[] }
interface BenchState {
  scenario: string; running: boolean; stopping: boolean; elapsed: number; duration: number;
  threads: number; cores: number; baselines: boolean; peak_processes: number;
  last: Record<string, number>; latency_us: Record<string, Pctl>; report: Report | null; error?: string;
}
interface Row { pid: string; label: string; name: string; status: string; mailbox: number; reductions: number; memory: number; links: number; monitors: number; wait: string }
interface Worker { load: number; run_queue: number }
interface StatusClasses { aborted: number; '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number }
interface ServingRoute {
  name: string; kind: string; requests: number; requests_per_s: number;
  status: StatusClasses; status_per_s: StatusClasses; in_flight: number;
  rejected: { in_flight: number; body_bytes: number; deadline: number }; failed: number;
  p50_ms: number | null; p99_ms: number | null;
}
interface Serving {
  window_s: number; routes: ServingRoute[]; open_connections: number; websockets: number; accepted: number;
  rejected: { max_connections: number; header_bytes: number; bad_request: number; max_in_flight: number;
    header_timeout: number; idle_timeout: number; tls_handshake: number; accept_errors: number };
}
interface PeerNode {
  name: string; id: number; address: string; up: boolean; bytes_in: number; bytes_out: number;
  in_bytes_per_s: number; out_bytes_per_s: number;
}
interface ClusterView { self: { name: string; id: number }; nodes: PeerNode[] }
interface Snapshot {
  type: 'snapshot'; t: number; processes: number; serving?: Serving; cluster?: ClusterView;
  totals: { restarts: number; spawns: number };
  rates: { sent: number; received: number; reductions: number; spawns: number; exits: number };
  workers: Worker[]; memory: { rss: number; processes?: number }; cpu_cores: number;
  status?: { running: number; runnable: number; waiting: number; exiting: number };
  table?: Row[]; table_total?: number; bench: BenchState | null;
}
interface Info { pid: string; status: string; mailbox: number; links: string[]; monitors: string[]; monitored_by: string[]; name: string; label: string; reductions: number; memory: number; wait: string; trap_exit: boolean; parent: string }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// ---- formatting
function num(v: number | undefined): string {
  if (v === undefined || v === null || !isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + ' G';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + ' M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + ' k';
  if (a >= 100 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US');
  return v.toPrecision(3);
}
function bytes(v: number | undefined): string {
  if (v === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}
function toast(text: string, error = false) {
  const t = $('toast');
  t.textContent = text;
  t.className = 'toast' + (error ? ' error' : '');
  clearTimeout((toast as any).timer);
  (toast as any).timer = setTimeout(() => t.classList.add('hidden'), 4000);
}

// ---- the token (docs/dashboard.md, "Security"). `rusm dashboard` prints the
// URL with ?token=...: keep it for this tab only (sessionStorage) and take it
// out of the address bar, so it is not bookmarked, shared or kept in history.
// The WebSocket presents it; without it the node only lets us observe.
const TOKEN_KEY = 'rusm-dashboard-token';
const token = ((): string => {
  const params = new URLSearchParams(location.search);
  const t = params.get('token');
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    params.delete('token');
    const q = params.toString();
    history.replaceState(null, '', location.pathname + (q ? `?${q}` : '') + location.hash);
    return t;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
})();
let readOnly = false;

// ---- connection
let ws: WebSocket | null = null;
let nextId = 1;
let wantTable = false;
function send(msg: Record<string, unknown>) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: nextId++, ...msg }));
}
function setConn(state: 'ok' | 'down' | 'wait', text: string) {
  const c = $('conn');
  c.className = 'conn ' + state;
  c.querySelector('.conn-text')!.textContent = text;
}
function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  ws = new WebSocket(`${proto}://${location.host}/ws${query}`);
  let opened = false;
  setConn('wait', 'connecting…');
  ws.onopen = () => {
    opened = true;
    setConn('ok', 'live');
    if (wantTable) send({ type: 'subscribe', topic: 'processes' });
  };
  ws.onclose = async () => {
    setConn('down', 'disconnected — retrying');
    if (!opened) {
      // A refused handshake looks like any failure here; ask why over HTTP.
      const r = await fetch('api/hello', { headers: token ? { Authorization: `Bearer ${token}` } : {} }).catch(() => null);
      if (r && (r.status === 401 || r.status === 403)) {
        setConn('down', (await r.text()).trim());
        setTimeout(connect, 5000);
        return;
      }
    }
    setTimeout(connect, 1000);
  };
  ws.onmessage = (e) => {
    let m: any;
    try { m = JSON.parse(e.data); } catch { return; }
    switch (m.type) {
      case 'hello': onHello(m); break;
      case 'snapshot': onSnapshot(m); break;
      case 'bench_started': startChart(m.bench); renderBench(m.bench); break;
      case 'bench_sample': onSample(m.metric, m.value, m.t); break;
      case 'bench_finished': renderBench(m.bench); break;
      case 'run_accepted': case 'stop_accepted': renderBench(m.bench); break;
      case 'process_info': renderInfo(m.info); break;
      case 'killed': toast(`killed ${m.pid}`); break;
      case 'node_snapshot': renderNodeView(m.node, m.snapshot); break;
      case 'error':
        if (m.id === OBSERVE_ID) { renderNodeError(m.message); break; }
        toast(m.message, true); if (m.message.includes('has exited')) clearInfo(); break;
    }
  };
}

// ---- tabs
let view = 'bench';
document.querySelectorAll<HTMLButtonElement>('.tab').forEach((b) =>
  b.addEventListener('click', () => {
    view = b.dataset.view!;
    document.querySelectorAll('.tab').forEach((x) => x.classList.toggle('active', x === b));
    $('view-bench').classList.toggle('hidden', view !== 'bench');
    $('view-observer').classList.toggle('hidden', view !== 'observer');
    const t = view === 'observer';
    if (t !== wantTable) {
      wantTable = t;
      send({ type: t ? 'subscribe' : 'unsubscribe', topic: 'processes' });
    }
    resizeCharts();
  }),
);

// ---- benchmark view
let scenarios: Scenario[] = [];
let selected = '';
let cores = 1;
function onHello(m: { access: string; scenarios: Scenario[]; node: { cores: number; workers: number }; bench: BenchState | null }) {
  readOnly = m.access !== 'control';
  document.body.classList.toggle('read-only', readOnly);
  if (readOnly) setConn('ok', 'live · read-only (open the URL rusm dashboard printed to control)');
  $<HTMLButtonElement>('run').disabled = readOnly;
  scenarios = m.scenarios;
  cores = m.node.cores;
  const sel = $<HTMLSelectElement>('threads');
  sel.innerHTML = `<option value="0">all cores (${cores})</option>` +
    Array.from({ length: cores }, (_, i) => `<option value="${i + 1}">${i + 1}</option>`).join('');
  const list = $('scenario-list');
  list.innerHTML = scenarios.map((s) =>
    `<li data-name="${esc(s.name)}" data-testid="scenario-${esc(s.name)}"><div class="name">${esc(s.name)}</div><div class="summary">${esc(s.summary)}</div></li>`).join('');
  list.querySelectorAll('li').forEach((li) => li.addEventListener('click', () => select(li.dataset.name!)));
  if (m.bench) { select(m.bench.scenario); renderBench(m.bench); }
  else if (!selected && scenarios.length) select(scenarios.find((s) => s.name === 'spawn-storm')?.name ?? scenarios[0].name);
}
function select(name: string) {
  selected = name;
  document.querySelectorAll('#scenario-list li').forEach((li) => li.classList.toggle('active', (li as HTMLElement).dataset.name === name));
  const s = scenarios.find((x) => x.name === name);
  $('scenario-title').textContent = name;
  $('scenario-summary').textContent = s ? s.summary : '';
}
$('run').addEventListener('click', () => {
  if (!selected) return;
  send({
    type: 'run', scenario: selected,
    duration: Number($<HTMLInputElement>('duration').value) || 3,
    threads: Number($<HTMLSelectElement>('threads').value),
    baselines: $<HTMLInputElement>('baselines').checked,
  });
});
$('stop').addEventListener('click', () => send({ type: 'stop' }));

// Throughput chart: one series per rate metric, plus live processes (right axis).
let benchPlot: uPlot | null = null;
let series: string[] = [];
let data: (number | null)[][] = [[]];
const palette = ['#4f9dff', '#37d39a', '#f5a524', '#e5484d', '#b78cff'];
function makeBenchPlot() {
  benchPlot?.destroy();
  const el = $('bench-chart');
  const opts: uPlot.Options = {
    width: el.clientWidth || 600, height: 260,
    scales: { x: { time: false }, p: { auto: true } },
    axes: [
      { stroke: '#8b95a7', grid: { stroke: '#232a36' }, label: 'seconds', labelSize: 20 },
      { stroke: '#8b95a7', grid: { stroke: '#232a36' }, size: 70, values: (_u, v) => v.map((x) => num(x)) },
      { scale: 'p', side: 1, stroke: '#6b7280', grid: { show: false }, size: 70, values: (_u, v) => v.map((x) => num(x)) },
    ],
    series: [{ label: 't (s)' }, ...series.map((s, i) => s === 'processes'
      ? { label: 'live processes', scale: 'p', stroke: '#6b7280', width: 1, dash: [4, 4] }
      : { label: s, stroke: palette[i % palette.length], width: 2, fill: palette[i % palette.length] + '22' })],
    legend: { live: true },
  };
  benchPlot = new uPlot(opts, data as uPlot.AlignedData, el);
}
function startChart(b: BenchState) {
  series = [];
  data = [[]];
  makeBenchPlot();
  $('chart-caption').textContent = `— ${b.scenario}`;
  $('tp-value').textContent = '–';
}
function onSample(metric: string, value: number, t: number) {
  let i = series.indexOf(metric);
  if (i < 0) {
    series.push(metric);
    data.push(data[0].map(() => null));
    i = series.length - 1;
    makeBenchPlot();
  }
  const xs = data[0];
  // Samples of one tick share a timestamp within 50 ms.
  if (!xs.length || t - (xs[xs.length - 1] as number) > 0.05) {
    xs.push(t);
    for (let k = 1; k < data.length; k++) data[k].push(null);
  }
  data[i + 1][xs.length - 1] = value;
  benchPlot?.setData(data as uPlot.AlignedData);
  if (metric !== 'processes') {
    $('tp-label').textContent = metric;
    $('tp-value').textContent = num(value);
  }
}
function renderBench(b: BenchState | null) {
  if (!b) return;
  const running = b.running;
  $<HTMLButtonElement>('run').disabled = running || readOnly;
  $<HTMLButtonElement>('stop').disabled = !running || b.stopping || readOnly;
  $('peak').textContent = b.peak_processes ? num(b.peak_processes) : '–';
  $('elapsed').textContent = `${b.elapsed.toFixed(1)} s${running ? ` / ${b.duration} s` : ''}`;
  const threads = b.threads === 0 ? b.cores : b.threads;
  $('profile').textContent = `${threads} worker thread${threads === 1 ? '' : 's'} of ${b.cores} core${b.cores === 1 ? '' : 's'}${b.baselines ? ' + baseline' : ''}`;
  $('result-state').textContent = running ? (b.stopping ? '(stopping…)' : '(running…)') : b.error ? `(failed: ${b.error})` : b.report ? '(finished)' : '';
  const lat = Object.entries(b.latency_us);
  $('latency-table').querySelector('tbody')!.innerHTML = lat.length
    ? lat.map(([k, p]) => `<tr><td>${esc(k)}</td><td>${num(p.count)}</td><td>${num(p.p50)}</td><td>${num(p.p95)}</td><td>${num(p.p99)}</td><td>${num(p.p999)}</td><td>${num(p.max)}</td></tr>`).join('')
    : `<tr><td colspan="7" class="muted">${running ? 'waiting for samples…' : 'this scenario samples no latencies'}</td></tr>`;
  if (b.report) {
    const r = b.report;
    $('result-table').querySelector('tbody')!.innerHTML = r.rows.map((row) => {
      const ratio = row.ratio === undefined ? '–' : `${row.ratio.toFixed(2)}×`;
      const good = row.ratio === undefined ? '' : (row.higher_is_better ? row.ratio >= 1 : row.ratio <= 1) ? 'good' : 'bad';
      const base = row.baseline === undefined ? '–' : `${num(row.baseline)} (${esc(row.baseline_name ?? '')})`;
      return `<tr><td>${esc(row.metric)}${row.note ? ` <span class="muted">${esc(row.note)}</span>` : ''}</td><td class="num">${num(row.value)}</td><td>${esc(row.unit)}</td><td>${base}</td><td class="${good}">${ratio}</td></tr>`;
    }).join('');
    $('result-notes').innerHTML = r.notes.map((n) => `<li>${esc(n)}</li>`).join('');
  } else if (running) {
    $('result-table').querySelector('tbody')!.innerHTML = '<tr><td colspan="5" class="muted">the table appears when the run ends</td></tr>';
    $('result-notes').innerHTML = '';
  }
}

// ---- observer view
let obsPlot: uPlot | null = null;
const obsData: number[][] = [[], [], []];
function makeObsPlot() {
  const el = $('obs-chart');
  obsPlot = new uPlot({
    width: el.clientWidth || 500, height: 170,
    scales: { x: { time: false } },
    axes: [{ stroke: '#8b95a7', grid: { stroke: '#232a36' } }, { stroke: '#8b95a7', grid: { stroke: '#232a36' }, size: 60, values: (_u, v) => v.map((x) => num(x)) }],
    series: [{ label: 't (s)' }, { label: 'messages/s', stroke: '#4f9dff', width: 2 }, { label: 'spawns/s', stroke: '#37d39a', width: 2 }],
  }, obsData as uPlot.AlignedData, el);
}
let rows: Row[] = [];
let sortKey: keyof Row = 'reductions';
let sortDesc = true;
let selectedPid = '';
function onSnapshot(s: Snapshot) {
  if (s.bench) renderBench(s.bench);
  $('cpu').textContent = `${s.cpu_cores.toFixed(2)} cores`;
  $('o-procs').textContent = num(s.processes);
  if (s.status) $('o-status').textContent = `${s.status.running} / ${s.status.runnable} / ${s.status.waiting}`;
  $('o-rss').textContent = bytes(s.memory.rss);
  if (s.memory.processes !== undefined) $('o-pmem').textContent = bytes(s.memory.processes);
  $('o-msgs').textContent = num(s.rates.sent);
  $('o-reds').textContent = num(s.rates.reductions);
  $('o-restarts').textContent = num(s.totals.restarts);
  $('load-bars').innerHTML = s.workers.map((w, i) => {
    const pct = Math.round(w.load * 100);
    return `<div class="bar-row"><span class="bar-label">worker ${i}</span><div class="bar"><div class="fill" style="width:${pct}%"></div></div><span class="bar-value">${pct}% · rq ${w.run_queue}</span></div>`;
  }).join('');
  obsData[0].push(s.t); obsData[1].push(s.rates.sent); obsData[2].push(s.rates.spawns);
  if (obsData[0].length > 600) obsData.forEach((a) => a.shift());
  if (view === 'observer') obsPlot?.setData(obsData as uPlot.AlignedData);
  renderRoutes(s.serving);
  renderCluster(s.cluster);
  if (s.table) {
    rows = s.table;
    $('table-count').textContent = s.table_total! > rows.length ? `(${rows.length} busiest of ${s.table_total})` : `(${rows.length})`;
    renderTable();
    if (selectedPid) {
      if (rows.some((r) => r.pid === selectedPid)) send({ type: 'process_info', pid: selectedPid });
    }
  }
}
// A table panel of the observer view, hidden until its data arrives: `name`
// gives the ids (NAME-panel, NAME-summary, NAME-table) and test ids.
function tablePanel(name: string, title: string, head: string): HTMLDivElement {
  const panel = document.createElement('div');
  panel.className = `panel ${name} hidden`;
  panel.id = `${name}-panel`;
  panel.dataset.testid = `${name}-panel`;
  panel.innerHTML = `
  <h3>${title} <span class="muted" id="${name}-summary" data-testid="${name}-summary"></span></h3>
  <div class="scroll">
    <table class="data" id="${name}-table" data-testid="${name}-table">
      <thead><tr>${head}</tr></thead>
      <tbody></tbody>
    </table>
  </div>`;
  return panel;
}
// ---- routes (only when the node serves: rusm serve with [observer])
const routesPanel = tablePanel('routes', 'Routes', `
        <th>route</th><th>kind</th><th class="num">req/s</th><th class="num">p50</th><th class="num">p99</th>
        <th class="num">2xx</th><th class="num">3xx</th><th class="num">4xx</th><th class="num">5xx</th>
        <th class="num" title="ended without a status (client gone, aborted)">aborted</th>
        <th class="num">in flight</th>
        <th class="num" title="503 over the in-flight limit / 413 body too large / 504 deadline">rejected (503 / 413 / 504)</th>
        <th class="num" title="handler failed or trapped">failed</th>`);
document.querySelector('#view-observer .grid-table')?.before(routesPanel);
function ms(v: number | null): string {
  if (v === null || v === undefined) return '–';
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toPrecision(2)} ms`;
}
function renderRoutes(v: Serving | undefined) {
  routesPanel.classList.toggle('hidden', !v);
  if (!v) return;
  const r = v.rejected;
  const refused = r.max_connections + r.header_bytes + r.bad_request + r.max_in_flight + r.header_timeout + r.idle_timeout + r.tls_handshake;
  $('routes-summary').textContent =
    `(${num(v.open_connections)} open connections, ${num(v.websockets)} WebSockets, ${num(v.accepted)} accepted, ` +
    `${num(refused)} refused: ${num(r.max_connections)} over max connections, ${num(r.max_in_flight)} over max in flight, ` +
    `${num(r.header_bytes)} headers too large, ${num(r.bad_request)} bad requests, ${num(r.header_timeout + r.idle_timeout)} timed out` +
    `${r.accept_errors ? `; ${num(r.accept_errors)} accept errors` : ''})`;
  routesPanel.querySelector('tbody')!.innerHTML = v.routes.map((x) => `
    <tr data-route="${esc(x.name)}">
      <td class="mono">${esc(x.name)}</td><td><span class="tag">${esc(x.kind)}</span></td>
      <td class="num" data-testid="route-rps">${num(x.requests_per_s)}</td>
      <td class="num" data-testid="route-p50">${ms(x.p50_ms)}</td><td class="num">${ms(x.p99_ms)}</td>
      <td class="num">${num(x.status['2xx'])}</td><td class="num">${num(x.status['3xx'])}</td>
      <td class="num">${num(x.status['4xx'])}</td><td class="num">${num(x.status['5xx'])}</td>
      <td class="num">${num(x.status.aborted)}</td><td class="num">${num(x.in_flight)}</td>
      <td class="num">${num(x.rejected.in_flight)} / ${num(x.rejected.body_bytes)} / ${num(x.rejected.deadline)}</td>
      <td class="num">${num(x.failed)}</td>
    </tr>`).join('');
}

// ---- cluster (only when the node is in one: rusm serve with [cluster])
const clusterPanel = tablePanel('cluster', 'Cluster', `
        <th>node</th><th class="num">id</th><th>state</th><th>address</th>
        <th class="num">in/s</th><th class="num">out/s</th><th class="num">in</th><th class="num">out</th>`);
routesPanel.before(clusterPanel);
function renderCluster(v: ClusterView | undefined) {
  clusterPanel.classList.toggle('hidden', !v);
  if (!v) return;
  const up = v.nodes.filter((n) => n.up).length;
  $('cluster-summary').textContent =
    `(this node: ${v.self.name}, id ${v.self.id}; ${up} of ${v.nodes.length} other nodes up)`;
  clusterPanel.querySelector('tbody')!.innerHTML = v.nodes.map((n) => `
    <tr data-node="${esc(n.name)}" class="${n.up ? 'observable' : ''}${n.name === observedNode ? ' selected' : ''}"
        title="${n.up ? `observe ${esc(n.name)} through this node` : ''}">
      <td class="mono">${esc(n.name)}</td><td class="num">${n.id}</td>
      <td><span class="tag ${n.up ? 'up' : 'down'}" data-testid="node-state">${n.up ? 'up' : 'down'}</span></td>
      <td class="mono">${esc(n.address)}</td>
      <td class="num">${bytes(n.in_bytes_per_s)}</td><td class="num">${bytes(n.out_bytes_per_s)}</td>
      <td class="num">${bytes(n.bytes_in)}</td><td class="num">${bytes(n.bytes_out)}</td>
    </tr>`).join('');
}

// ---- another node's observer, through this one ({"type":"observe_node"}):
// click an up node in the Cluster panel; its snapshot is asked for every
// second while the panel is open.
const OBSERVE_ID = 'observe-node';
let observedNode: string | null = null;
let observeTimer: ReturnType<typeof setInterval> | undefined;
const nodePanel = document.createElement('div');
nodePanel.className = 'panel node-view hidden';
nodePanel.id = 'node-panel';
nodePanel.dataset.testid = 'node-panel';
nodePanel.innerHTML = `
  <h3><span id="node-title" data-testid="node-title"></span> <span class="muted" id="node-summary" data-testid="node-summary"></span>
    <button id="node-close" class="small">close</button></h3>
  <div class="muted" id="node-error" data-testid="node-error"></div>
  <div class="scroll">
    <table class="data" id="node-table" data-testid="node-table">
      <thead><tr><th>pid</th><th>name or label</th><th>status</th><th class="num">mailbox</th><th class="num">reductions</th><th class="num">memory</th></tr></thead>
      <tbody></tbody>
    </table>
  </div>`;
clusterPanel.after(nodePanel);
function observeNode(name: string | null) {
  observedNode = name;
  clearInterval(observeTimer);
  nodePanel.classList.toggle('hidden', !name);
  if (!name) return;
  $('node-title').textContent = `Node ${name}`;
  $('node-summary').textContent = '(asking through this node…)';
  $('node-error').textContent = '';
  nodePanel.querySelector('tbody')!.innerHTML = '';
  const ask = () => send({ type: 'observe_node', id: OBSERVE_ID, node: name });
  ask();
  observeTimer = setInterval(ask, 1000);
}
function renderNodeView(name: string, s: Snapshot) {
  if (name !== observedNode) return;
  $('node-error').textContent = '';
  const w = s.workers ?? [];
  const load = w.length ? Math.round((100 * w.reduce((a, x) => a + x.load, 0)) / w.length) : 0;
  $('node-summary').textContent =
    `(through this node: ${num(s.processes)} processes, ${num(s.rates?.sent)} msgs/s, ` +
    `${num(s.rates?.reductions)} reductions/s, RSS ${bytes(s.memory?.rss)}, ${w.length} workers at ${load}%)`;
  const top = (s.table ?? []).slice().sort((a, b) => b.reductions - a.reductions).slice(0, 20);
  nodePanel.querySelector('tbody')!.innerHTML = top.map((r) => `
    <tr><td class="mono">${esc(r.pid)}</td><td>${esc(r.name || r.label || '—')}</td>
      <td><span class="status ${esc(r.status)}">${esc(r.status)}</span></td>
      <td class="num">${num(r.mailbox)}</td><td class="num">${num(r.reductions)}</td><td class="num">${bytes(r.memory)}</td></tr>`).join('');
}
function renderNodeError(message: string) {
  if (observedNode) $('node-error').textContent = message;
}
clusterPanel.addEventListener('click', (e) => {
  const tr = (e.target as HTMLElement).closest('tr.observable') as HTMLElement | null;
  if (tr?.dataset.node) observeNode(tr.dataset.node);
});
$('node-close').addEventListener('click', () => observeNode(null));

function renderTable() {
  const f = $<HTMLInputElement>('filter').value.trim().toLowerCase();
  const shown = rows.filter((r) => !f || `${r.pid} ${r.label} ${r.name} ${r.status} ${r.wait}`.toLowerCase().includes(f));
  shown.sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    const c = typeof x === 'number' ? (x as number) - (y as number) : String(x).localeCompare(String(y), 'en', { numeric: true });
    return sortDesc ? -c : c;
  });
  document.querySelectorAll('#proc-table th[data-key]').forEach((th) => {
    const k = (th as HTMLElement).dataset.key;
    th.classList.toggle('sorted', k === sortKey);
    th.classList.toggle('desc', k === sortKey && sortDesc);
  });
  $('proc-table').querySelector('tbody')!.innerHTML = shown.map((r) => `
    <tr data-pid="${esc(r.pid)}" class="${r.pid === selectedPid ? 'selected' : ''}">
      <td class="mono">${esc(r.pid)}</td>
      <td>${esc(r.label || '—')}${r.name ? ` <span class="tag">${esc(r.name)}</span>` : ''}</td>
      <td><span class="status ${esc(r.status)}">${esc(r.status)}</span></td>
      <td class="num">${num(r.mailbox)}</td><td class="num">${num(r.reductions)}</td><td class="num">${bytes(r.memory)}</td>
      <td class="num">${r.links}</td><td class="num">${r.monitors}</td><td class="muted">${esc(r.wait)}</td>
      <td><button class="kill" data-kill="${esc(r.pid)}" title="kill ${esc(r.pid)}">kill</button></td>
    </tr>`).join('');
}
$('filter').addEventListener('input', renderTable);
document.querySelectorAll<HTMLElement>('#proc-table th[data-key]').forEach((th) => th.addEventListener('click', () => {
  const k = th.dataset.key as keyof Row;
  if (k === sortKey) sortDesc = !sortDesc; else { sortKey = k; sortDesc = typeof rows[0]?.[k] === 'number'; }
  renderTable();
}));
$('proc-table').addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const kill = target.closest('[data-kill]') as HTMLElement | null;
  if (kill) { send({ type: 'kill', pid: kill.dataset.kill }); e.stopPropagation(); return; }
  const tr = target.closest('tr[data-pid]') as HTMLElement | null;
  if (tr) {
    selectedPid = tr.dataset.pid!;
    send({ type: 'process_info', pid: selectedPid });
    renderTable();
  }
});
function pidList(ps: string[]): string {
  return ps.length ? ps.map((p) => `<a href="#" class="mono pidlink" data-pid="${esc(p)}">${esc(p)}</a>`).join(' ') : '<span class="muted">none</span>';
}
function renderInfo(i: Info) {
  if (i.pid !== selectedPid) return;
  $('info-body').className = '';
  $('info-body').innerHTML = `
    <div class="info-title"><span class="mono">${esc(i.pid)}</span> <span class="status ${esc(i.status)}">${esc(i.status)}</span></div>
    <dl>
      <dt>label</dt><dd>${esc(i.label || '—')}</dd>
      <dt>registered name</dt><dd>${esc(i.name || '—')}</dd>
      <dt>mailbox</dt><dd data-testid="info-mailbox">${i.mailbox} message${i.mailbox === 1 ? '' : 's'}</dd>
      <dt>waiting for</dt><dd>${esc(i.wait || '—')}</dd>
      <dt>reductions</dt><dd>${num(i.reductions)}</dd>
      <dt>memory</dt><dd>${bytes(i.memory)}</dd>
      <dt>trap_exit</dt><dd>${i.trap_exit}</dd>
      <dt>parent</dt><dd>${i.parent ? pidList([i.parent]) : '—'}</dd>
      <dt>links</dt><dd data-testid="info-links">${pidList(i.links)}</dd>
      <dt>monitors</dt><dd>${pidList(i.monitors)}</dd>
      <dt>monitored by</dt><dd>${pidList(i.monitored_by)}</dd>
    </dl>
    <button class="danger" id="info-kill" data-testid="info-kill">Kill ${esc(i.pid)}</button>`;
  $('info-kill').addEventListener('click', () => send({ type: 'kill', pid: i.pid }));
}
function clearInfo() {
  selectedPid = '';
  $('info-body').className = 'muted';
  $('info-body').textContent = 'The process has exited. Click another one.';
}
$('info-panel').addEventListener('click', (e) => {
  const a = (e.target as HTMLElement).closest('a.pidlink') as HTMLElement | null;
  if (a) { e.preventDefault(); selectedPid = a.dataset.pid!; send({ type: 'process_info', pid: selectedPid }); renderTable(); }
});

function resizeCharts() {
  if (benchPlot) benchPlot.setSize({ width: $('bench-chart').clientWidth, height: 260 });
  if (obsPlot) obsPlot.setSize({ width: $('obs-chart').clientWidth, height: 170 });
  if (view === 'observer') obsPlot?.setData(obsData as uPlot.AlignedData);
}
window.addEventListener('resize', resizeCharts);

makeBenchPlot();
makeObsPlot();
connect();
