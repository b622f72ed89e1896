// End-to-end test of `rusm serve` in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core from dashboard/node_modules, as
// dashboard/e2e does; no browser download). ctest: serve.e2e.chromium.
//
//   node tests/serve/e2e/serve.e2e.mjs --rusm build/rusm \
//        --examples build/examples/serve --www tests/serve/e2e/www \
//        --modules dashboard --chromium /usr/bin/chromium --out build/artifacts
//
// Writes a rusm.toml with three routes: a static route serving www/ (the
// page), the chat example's WebSocket route (/chat, chat.wasm: a process per
// connection and a "room" process) and the ticker example's SSE route
// (/ticks, ticker.wasm: a process per stream), and runs `rusm serve` on two
// free loopback ports, plain HTTP and HTTPS (a certificate made with openssl
// for the run). Two pages join the chat, alice over http/ws and bob over
// https/wss: each sees the other join, the line it sent come back through the
// room, and the other's line; bob's page closing shows alice "bob left". Each
// page's EventSource receives the ticker's events in order (over TLS for
// bob). Finally SIGTERM must stop the server cleanly. A missing chromium,
// playwright-core or openssl is a failure, never a skip.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const rusm = resolve(args.rusm ?? 'build/rusm');
const examples = resolve(args.examples ?? 'build/examples/serve');
const www = resolve(args.www ?? 'tests/serve/e2e/www');
const modules = resolve(args.modules ?? 'dashboard');
const browserPath = args.chromium ?? '/usr/bin/chromium';
const out = resolve(args.out ?? 'build/artifacts');
mkdirSync(out, { recursive: true });

let passed = 0;
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  passed++;
  console.log(`  ok   ${what}`);
}
async function until(what, fn, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
function fail(message) {
  console.error(`FAIL: ${message}`);
  console.log(`serve.e2e.chromium: ${passed} passed, 1 failed`);
  process.exit(1);
}

// What the test needs, each a failure with the way to get it.
let chromium;
try {
  ({ chromium } = createRequire(join(modules, 'package.json'))('playwright-core'));
} catch (e) {
  fail(`playwright-core not found from ${modules} (build the dashboard target, which runs npm ci): ${e.message}`);
}
try {
  accessSync(browserPath, constants.X_OK);
} catch {
  fail(`no chromium at ${browserPath} (scripts/bootstrap.sh installs Debian's chromium)`);
}
for (const f of [rusm, join(examples, 'chat/chat.wasm'), join(examples, 'ticker/ticker.wasm'), join(www, 'index.html')]) {
  try {
    accessSync(f, constants.R_OK);
  } catch {
    fail(`missing ${f} (build the targets rusm, example_serve_chat_chat and example_serve_ticker_ticker)`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'rusm-serve-e2e-'));
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
} catch (e) {
  rmSync(dir, { recursive: true, force: true });
  fail(`openssl could not make a certificate: ${e.message}`);
}
const q = (s) => JSON.stringify(s);  // a TOML basic string
writeFileSync(join(dir, 'rusm.toml'), `listen = "127.0.0.1:0"

[tls]
listen = "127.0.0.1:0"
cert = ${q(join(dir, 'cert.pem'))}
key = ${q(join(dir, 'key.pem'))}

[[route]]
path = "/chat"
kind = "ws"
module = ${q(join(examples, 'chat/chat.wasm'))}
allow = ["spawn", "registry"]
memory = "1M"

[[route]]
path = "/ticks"
method = "GET"
kind = "sse"
module = ${q(join(examples, 'ticker/ticker.wasm'))}
entry = "ticks"

[[route]]
prefix = "/"
kind = "static"
dir = ${q(www)}
`);

const node = spawn(rusm, ['serve', '--workers', '2', join(dir, 'rusm.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
node.stdout.on('data', (d) => { output += d; });
node.stderr.on('data', (d) => { output += d; });
const exited = new Promise((r) => node.on('exit', (code, signal) => r({ code, signal })));

let browser;
let failed = false;
try {
  const base = await until('"listening on http" from rusm serve', () => output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1]);
  const secure = await until('"listening on https" from rusm serve', () => output.match(/listening on (https:\/\/127\.0\.0\.1:\d+)/)?.[1]);
  console.log(`rusm serve at ${base} and ${secure}`);
  browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu'] });
  // The certificate is this run's own: the browser is told to accept it.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const pageErrors = [];
  const open = async (name, origin) => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e}`));
    const response = await page.goto(`${origin}/?name=${name}&ticks=3`);
    check(response.status() === 200 && response.headers()['content-type']?.startsWith('text/html'),
      `${name}'s page is served by the static route over ${origin.split(':')[0]} (${response.status()} ${response.headers()['content-type']})`);
    await until(`${name}'s WebSocket to open`, async () => (await page.textContent('[data-testid=ws-state]')) === 'open');
    return page;
  };
  const lines = (page) => page.$$eval('[data-testid=chat-log] div', (ds) => ds.map((d) => d.textContent));
  const sees = (page, who, line) => until(`${who} to see "${line}"`, async () => (await lines(page)).includes(line));
  const say = async (page, text) => {
    await page.fill('[data-testid=chat-text]', text);
    await page.click('[data-testid=chat-send]');
  };

  const alice = await open('alice', base);
  check(true, 'alice\'s page opens a WebSocket to the Wasm chat handler');
  await sees(alice, 'alice', '* alice joined');
  check(true, 'the room announces alice to herself');
  const bob = await open('bob', secure);
  await sees(bob, 'bob', '* bob joined');
  await sees(alice, 'alice', '* bob joined');
  check(true, 'a second page in the room, over wss: both see bob join');

  await say(alice, 'hello from alice');
  await sees(alice, 'alice', 'alice: hello from alice');
  check(true, 'alice\'s line comes back to her through the room (echo)');
  await sees(bob, 'bob', 'alice: hello from alice');
  check(true, 'bob sees alice\'s line (broadcast)');
  await say(bob, 'hi alice, bob here');
  await sees(alice, 'alice', 'bob: hi alice, bob here');
  check(true, 'alice sees bob\'s line');
  const order = await lines(alice);
  check(order.indexOf('alice: hello from alice') < order.indexOf('bob: hi alice, bob here'),
    `alice's log is in order (${order.join(' | ')})`);

  // The ticker's events, in each page's EventSource.
  for (const [name, page] of [['alice', alice], ['bob (over TLS)', bob]]) {
    await until(`${name}'s EventSource to get 3 ticks`, async () => (await page.textContent('[data-testid=sse-state]')) === 'done');
    const ticks = await page.$$eval('[data-testid=sse-log] div', (ds) => ds.map((d) => d.textContent));
    check(JSON.stringify(ticks) === JSON.stringify(['{"tick":0}', '{"tick":1}', '{"tick":2}']),
      `${name}'s EventSource receives the Wasm SSE handler's events in order (${ticks.join(' ')})`);
  }

  await alice.screenshot({ path: join(out, 'serve-e2e.png') });
  await bob.close();
  await sees(alice, 'alice', '* bob left');
  check(true, 'closing bob\'s page ends his connection process: alice sees "bob left"');
  check((await alice.textContent('[data-testid=ws-state]')) === 'open', 'alice stays connected');

  const missing = await context.request.get(`${base}/nothing-here.html`);
  check(missing.status() === 404, `an unknown file is a 404 (${missing.status()})`);
  check(pageErrors.length === 0, `no script errors in the pages${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
  console.error(`rusm serve said:\n${output}`);
} finally {
  await browser?.close().catch(() => {});
  node.kill('SIGTERM');
  const r = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), 15000))]);
  if (r === null) {
    failed = true;
    console.error('FAIL: rusm serve did not exit within 15 s of SIGTERM');
    node.kill('SIGKILL');
  } else if (!failed) {
    try {
      check(r.code === 0 && output.includes('rusm serve: stopped'), `rusm serve stops cleanly on SIGTERM (exit ${r.code})`);
    } catch (e) {
      failed = true;
      console.error(`FAIL: ${e.message}\n${output}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
console.log(`serve.e2e.chromium: ${passed} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
