// End-to-end test of `rusm dashboard` in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; no browser download).
//
//   node e2e/dashboard.e2e.mjs --rusm build/rusm --assets build/dashboard \
//        --out build/artifacts [--docs-img docs/img]
//
// Starts the dashboard on a free loopback port and opens the URL it prints
// (with its token), runs spawn-storm for 2 s and checks that the chart and
// the numbers move and the result table appears, then opens the observer,
// checks the process table, kills a worker from it and checks that its
// supervisor replaced it. Also checks the token's handling: the page takes it
// out of the address bar, a page opened without it is read-only, and a kill
// sent without it is refused. Then starts `rusm serve` on a small static site
// with [observer] on, sends it traffic, and checks that the observer's Routes
// panel shows the site's route with its request rate, latency and status
// classes. Saves screenshots of the views to --out (and to --docs-img when
// given). Exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const rusm = args.rusm ?? 'build/rusm';
const out = args.out ?? 'build/artifacts';
const browserPath = args.chromium ?? '/usr/bin/chromium';
mkdirSync(out, { recursive: true });

let passed = 0;
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  passed++;
  console.log(`  ok   ${what}`);
}
async function until(what, fn, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// `rusm serve` of a static site with the observer on, as node n1 of a
// cluster that a second `rusm serve` (n2) joins: the Routes and Cluster panels.
async function servePhase(browser) {
  const dir = mkdtempSync(join(tmpdir(), 'rusm-e2e-serve-'));
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'public', 'index.html'), '<h1>hello from a served site</h1>\n');
  for (const a of [['cluster', 'ca'], ['cluster', 'cert', 'n1'], ['cluster', 'cert', 'n2']]) {
    const r = spawnSync(rusm, a, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`rusm ${a.join(' ')}: ${r.stderr}`);
  }
  const toml = (name, observer) => [
    'listen = ["127.0.0.1:0"]', '', ...(observer ? ['[observer]', 'listen = "127.0.0.1:0"', ''] : []),
    '[cluster]', `name = "${name}"`, 'listen = "127.0.0.1:0"', '',
    '[[route]]', 'prefix = "/"', 'kind = "static"', 'dir = "public"', ''].join('\n');
  writeFileSync(join(dir, 'rusm.toml'), toml('n1', true));
  writeFileSync(join(dir, 'n2.toml'), toml('n2', false));
  const srv = spawn(rusm, ['serve', join(dir, 'rusm.toml'), '--workers', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out2 = '';
  srv.stdout.on('data', (d) => { out2 += d; });
  const srvExited = new Promise((r) => srv.on('exit', (code, signal) => r({ code, signal })));
  let stop = false;
  let load = Promise.resolve();
  let peer = null;
  try {
    const site = await until('the site URL of rusm serve', () => out2.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1], 20000);
    const obsUrl = await until('the observer URL of rusm serve', () => out2.match(/observer on (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/)?.[1], 20000);
    const clusterPort = await until('the cluster port of n1', () => out2.match(/cluster node n1 \(id \d+\) on 127\.0\.0\.1:(\d+)/)?.[1], 20000);
    peer = spawn(rusm, ['serve', join(dir, 'n2.toml'), '--workers', '1', '--seed', `127.0.0.1:${clusterPort}`],
      { stdio: ['ignore', 'ignore', 'ignore'] });
    // Traffic until the checks are done: the page (200) and a missing file (404).
    load = (async () => {
      while (!stop) {
        for (const path of ['/index.html', '/index.html', '/missing.txt']) {
          await fetch(site + path).then((r) => r.text()).catch(() => {});
        }
      }
    })();
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(obsUrl);
    await until('the observer of rusm serve to connect', async () => (await page.textContent('[data-testid=conn]'))?.includes('live'));
    await page.click('[data-testid=tab-observer]');
    await until('the Routes panel', () => page.isVisible('[data-testid=routes-panel]'));
    check(true, 'the observer of a serving node shows a Routes panel');
    const row = await until('the static route with traffic, latency and status classes', async () => {
      const rows = await page.$$eval('#routes-table tbody tr', (rs) => rs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent.trim())));
      const st = rows.find((r) => r[1] === 'static');
      if (!st) return null;
      const [name, kind, rps, p50, p99, s2, , s4] = st;
      return rps !== '–' && rps !== '0' && p50 !== '–' && s2 !== '0' && s4 !== '0' ? { name, kind, rps, p50, p99, s2, s4 } : null;
    }, 20000);
    check(true, `route ${row.name}: ${row.rps} req/s, p50 ${row.p50}, p99 ${row.p99}, 2xx ${row.s2}, 4xx ${row.s4}`);
    const summary = await page.textContent('[data-testid=routes-summary]');
    check(/\d+ open connections/.test(summary), `the connection gauges are shown (${summary.slice(0, 60)}…)`);
    await page.screenshot({ path: join(out, 'dashboard-routes.png') });
    await until('the Cluster panel', () => page.isVisible('[data-testid=cluster-panel]'));
    const nodeState = async () => page.$$eval('#cluster-table tbody tr', (rs) =>
      rs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent.trim())).find((r) => r[0] === 'n2')?.[2]);
    await until('n2 up in the Cluster panel', async () => (await nodeState()) === 'up', 20000);
    const csum = await page.textContent('[data-testid=cluster-summary]');
    check(/this node: n1/.test(csum) && /1 of 1 other nodes up/.test(csum), `the Cluster panel shows n2 up (${csum})`);
    await page.screenshot({ path: join(out, 'dashboard-cluster.png') });
    // n2's observer through n1 (n2 has no [observer] of its own).
    await page.click('#cluster-table tbody tr[data-node="n2"]');
    const nsum = await until('n2 observed through n1', async () => {
      const t = await page.textContent('[data-testid=node-summary]');
      return /through this node: [\d,.]+ (k |M )?processes/.test(t ?? '') ? t : null;
    }, 20000);
    check(true, `clicking n2 shows its observer through n1 ${nsum.slice(0, 70)}…`);
    // A static site's node runs no processes of its own: the table lists as
    // many as the summary counts (up to 20).
    const nrows = await page.$$eval('#node-table tbody tr', (rs) => rs.length);
    const nprocs = Number(nsum.match(/through this node: ([\d,]+) processes/)?.[1]?.replace(/,/g, '') ?? -1);
    check(nprocs >= 0 && nrows === Math.min(20, nprocs), `n2's busiest processes are listed (${nrows} rows for ${nprocs} processes)`);
    await page.screenshot({ path: join(out, 'dashboard-node.png') });
    peer.kill('SIGKILL');
    await until('n2 down in the Cluster panel after kill -9', async () => (await nodeState()) === 'down', 20000);
    check(true, 'kill -9 of n2 shows it down in the Cluster panel');
    check(errors.length === 0, `no script errors on the serving node's page${errors.length ? ': ' + errors.join('; ') : ''}`);
    await page.close();
  } finally {
    stop = true;
    await load;
    peer?.kill('SIGKILL');
    srv.kill('SIGTERM');
    const r = await Promise.race([srvExited, new Promise((res) => setTimeout(() => res(null), 15000))]);
    rmSync(dir, { recursive: true, force: true });
    if (r === null) {
      srv.kill('SIGKILL');
      throw new Error('rusm serve did not exit within 15 s of SIGTERM');
    }
    check(r.code === 0, `rusm serve with the observer shuts down cleanly on SIGTERM (exit ${r.code})`);
  }
}

const node = spawn(rusm, ['dashboard', '--listen', '127.0.0.1:0', ...(args.assets ? ['--assets', args.assets] : [])], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let stdout = '';
node.stdout.on('data', (d) => { stdout += d; });
const exited = new Promise((r) => node.on('exit', (code, signal) => r({ code, signal })));

let browser;
let failed = false;
try {
  const url = await until('the dashboard URL on stdout', () => stdout.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}/)?.[0], 20000);
  const base = url.slice(0, url.indexOf('?'));
  console.log(`dashboard at ${base} (token in the printed URL)`);
  browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(url);
  await until('the WebSocket to connect', async () => (await page.textContent('[data-testid=conn]'))?.includes('live'));
  check(true, 'page loads and the WebSocket connects');
  check(!page.url().includes('token'), `the page takes the token out of the address bar (${page.url()})`);
  check(!(await page.textContent('[data-testid=conn]')).includes('read-only'), 'with the token the page may control the node');

  // ---- benchmark view: run spawn-storm for 2 s
  await page.click('[data-testid="scenario-spawn-storm"]');
  check((await page.textContent('#scenario-title')) === 'spawn-storm', 'selecting a scenario shows its name');
  await page.fill('#duration', '2');
  await page.uncheck('#baselines');
  await page.click('[data-testid=run]');
  const seen = new Set();
  await until('the throughput figure to change during the run', async () => {
    const v = await page.textContent('[data-testid=throughput]');
    if (v && v !== '–') seen.add(v);
    return seen.size >= 2;
  });
  check(seen.size >= 2, `throughput moves while running (${[...seen].slice(0, 3).join(', ')})`);
  const points = await page.evaluate(() => document.querySelectorAll('#bench-chart .u-series').length);
  check(points >= 2, 'the throughput chart has series');
  await until('the result table', async () => (await page.textContent('[data-testid=result-table]'))?.includes('spawn+exit/s'), 30000);
  check(true, 'the result table shows spawn+exit/s when the run ends');
  const peak = await page.textContent('[data-testid=peak]');
  check(peak && peak !== '–', `peak concurrency is shown (${peak})`);
  check((await page.textContent('[data-testid=latency-table]')).includes('spawn to running'), 'latency percentiles are shown');
  await page.screenshot({ path: join(out, 'dashboard-bench.png') });

  // ---- observer view: the process table and killing a worker
  await page.click('[data-testid=tab-observer]');
  await until('the process table', async () => (await page.$$('#proc-table tbody tr')).length >= 10);
  const count = Number((await page.textContent('[data-testid=process-count]')).replace(/,/g, ''));
  check(count >= 10, `the process count is shown (${count})`);
  await page.fill('[data-testid=filter]', 'worker 2');
  const row = await until('the row of worker 2', async () => {
    const rows = await page.$$('#proc-table tbody tr');
    return rows.length === 1 ? rows[0] : null;
  });
  const oldPid = await row.getAttribute('data-pid');
  // The table is re-rendered with every snapshot: click by selector, which
  // retries, rather than through a handle that may be detached.
  await page.click(`#proc-table tbody tr[data-pid="${oldPid}"] td`);
  await until('process info', async () => (await page.textContent('[data-testid=info-panel]')).includes(oldPid) &&
    (await page.textContent('[data-testid=info-links]')).includes('<'));
  check(true, `clicking ${oldPid} shows its info with links`);
  await page.click('[data-testid=info-kill]');
  const newPid = await until('worker 2 to be restarted with a new pid', async () => {
    const pids = await page.$$eval('#proc-table tbody tr', (rs) => rs.map((r) => r.getAttribute('data-pid')));
    return pids.length === 1 && pids[0] !== oldPid ? pids[0] : null;
  });
  check(newPid !== oldPid, `killing ${oldPid} from the table: the supervisor restarted it as ${newPid}`);
  // The Wasm half of the demo: a squarer of examples/demo_service.c.
  await page.fill('[data-testid=filter]', 'squarer 1');
  const wasmRow = await until('the Wasm squarer 1', async () => {
    const rows = await page.$$('#proc-table tbody tr');
    return rows.length === 1 ? rows[0] : null;
  });
  check((await wasmRow.textContent()).includes('[trusted]'), 'a Wasm process shows its profile');
  await page.fill('[data-testid=filter]', '');
  await page.click(`#proc-table tbody tr[data-pid="${newPid}"]`);
  await until('info of the new worker', async () => (await page.textContent('[data-testid=info-panel]')).includes(newPid));
  await page.waitForTimeout(600);
  await page.screenshot({ path: join(out, 'dashboard-observer.png') });

  // Without the token: a control command is refused, a page is read-only.
  const refused = await page.evaluate((wsUrl) => new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    let access = '';
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === 'hello') { access = m.access; ws.send(JSON.stringify({ id: 1, type: 'kill', pid: '<0.1.1>' })); }
      else if (m.id === 1) { ws.close(); resolve({ access, ...m }); }
    };
    ws.onerror = () => resolve({ type: 'socket error' });
    setTimeout(() => resolve({ type: 'timeout' }), 5000);
  }), base.replace('http:', 'ws:') + 'ws');
  check(refused.access === 'observe', `a WebSocket without the token may only observe (${refused.access})`);
  check(refused.type === 'error' && refused.message.includes('token'), `a kill without the token is refused: ${refused.message ?? refused.type}`);
  const guest = await browser.newPage();
  await guest.goto(base);
  await until('the read-only page to connect', async () => (await guest.textContent('[data-testid=conn]'))?.includes('read-only'));
  check(await guest.isDisabled('[data-testid=run]'), 'a page opened without the token is read-only (Run disabled)');
  await guest.close();

  const metrics = await (await fetch(base + 'metrics')).text();
  const restarts = Number(metrics.match(/^rusm_restarts_total (\d+)/m)?.[1] ?? 0);
  check(restarts >= 1, `/metrics counts the restart (rusm_restarts_total ${restarts})`);
  check(pageErrors.length === 0, `no script errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);

  await servePhase(browser);

  if (args['docs-img']) {
    mkdirSync(args['docs-img'], { recursive: true });
    for (const f of ['dashboard-bench.png', 'dashboard-observer.png', 'dashboard-routes.png']) copyFileSync(join(out, f), join(args['docs-img'], f));
  }
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
} finally {
  await browser?.close().catch(() => {});
  node.kill('SIGTERM');
  const r = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), 15000))]);
  if (r === null) {
    failed = true;
    console.error('FAIL: rusm dashboard did not exit within 15 s of SIGTERM');
    node.kill('SIGKILL');
  } else if (!failed) {
    check(r.code === 0, `rusm dashboard shuts down cleanly on SIGTERM (exit ${r.code})`);
  }
}
console.log(`e2e_dashboard: ${passed} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
