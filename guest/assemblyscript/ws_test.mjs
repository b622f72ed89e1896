// The AssemblyScript serve example's WebSocket route under `rusm serve`
// (ctest runtime.cli.as_serve_ws_example):
//   node --experimental-websocket ws_test.mjs RUSM APP_DIR
// Copies APP_DIR (build/examples/assemblyscript/serve/hello) to a temporary
// folder with `listen` on port 0, connects to /ws/lobby?x=1, checks the echo
// of a text and a binary message, a ping and the path, and that "bye" makes
// the handler close with 1000 and its reason, then that SIGTERM stops the
// server cleanly.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [rusm, app] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'rusm-as-ws-'));
cpSync(app, dir, { recursive: true });
const toml = join(dir, 'rusm.toml');
writeFileSync(toml, readFileSync(toml, 'utf8').replace(/^listen = .*$/m, 'listen = "127.0.0.1:0"'));

let log = '';
const server = spawn(rusm, ['serve', toml], { stdio: ['ignore', 'pipe', 'pipe'] });
server.stdout.on('data', (d) => (log += d));
server.stderr.on('data', (d) => (log += d));

function fail(why) {
  console.log(`FAIL: ${why}\n${log}`);
  server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}
setTimeout(() => fail('timed out after 20 s'), 20000).unref();

async function url() {
  for (let i = 0; i < 200; i++) {
    const m = log.match(/listening on http:\/\/(\S+?)\/?(\s|$)/);
    if (m) return m[1];
    await new Promise((r) => setTimeout(r, 50));
  }
  fail('rusm serve did not say where it listens');
}

const host = await url();
const ws = new WebSocket(`ws://${host}/ws/lobby?x=1`);
ws.binaryType = 'arraybuffer';
const inbox = [];
let waiter = null;
ws.onmessage = (e) => {
  inbox.push(e.data);
  if (waiter) waiter();
};
const closed = new Promise((resolve) => (ws.onclose = (e) => resolve(e)));
ws.onerror = () => fail('the WebSocket failed');
await new Promise((resolve) => (ws.onopen = resolve));

async function next() {
  while (inbox.length === 0) await new Promise((r) => (waiter = r));
  return inbox.shift();
}

ws.send('hi');
const text = await next();
if (text !== 'echo: hi in lobby (x=1)') fail(`text echo: got ${JSON.stringify(text)}`);
console.log('ok: text echo');
ws.send('ping');
const pinged = await next();
if (pinged !== 'ping: OK, path /ws/lobby') fail(`ping: got ${JSON.stringify(pinged)}`);
console.log('ok: ping and path');
ws.send(new Uint8Array([1, 2, 250]));
const bin = new Uint8Array(await next());
if (bin.length !== 3 || bin[2] !== 250) fail(`binary echo: got ${bin}`);
console.log('ok: binary echo');
ws.send('bye');
const e = await closed;
if (e.code !== 1000 || e.reason !== 'bye from lobby (x=1)') fail(`close: ${e.code} ${e.reason}`);
console.log('ok: the handler closed with 1000 and its reason');

server.kill('SIGTERM');
const code = await new Promise((resolve) => server.on('exit', (c) => resolve(c)));
rmSync(dir, { recursive: true, force: true });
if (code !== 0) fail(`rusm serve exited with ${code} after SIGTERM`);
console.log('PASS');
process.exit(0);
