// The platform API from TypeScript, type-checked against guest/js/rusm.d.ts
// (test guest.js_dts, tsc --strict) and run (runtime.cli.ts_platform): a
// KV counter, a topic delivered to this process, an HMAC, HKDF, a
// ChaCha20-Poly1305 round trip and a BLAKE2s digest; and handlers of
// the three kinds of route a script can serve, streamed responses, a
// fetched body read chunk by chunk and the cluster's calls (typed, not
// called here).
import rusm, {
  kv,
  type Bucket,
  type ResponseBody,
  type ResponseWriter,
  type RusmError,
  type ServerEvents,
  type ServerRequest,
  type ServerResponse,
  type ServerWebSocket,
} from "rusm";

const hex = (b: ArrayBuffer): string => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

export async function main(): Promise<void> {
  const bucket: Bucket = kv.open("app");
  const n: number = bucket.incr("ts-runs");
  rusm.subscribe("ts-topic");
  const copies: number = rusm.publish("ts-topic", { n });
  const m = rusm.receive({ tag: "ts-topic", timeout: 1000 });
  const got = m !== null && m.tag === "ts-topic" ? (m as import("rusm").Message).json().n : -1;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("Jefe"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("what do ya want for nothing?"));
  const ikm = await crypto.subtle.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits", "deriveKey"]);
  const hkdf: Rusm.HkdfParams = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(13).map((_, i) => i), info: new Uint8Array(10).map((_, i) => 0xf0 + i) };
  const okm = await crypto.subtle.deriveBits(hkdf, ikm, 336);
  const chacha = await crypto.subtle.deriveKey(hkdf, ikm, { name: "ChaCha20-Poly1305" }, false, ["encrypt", "decrypt"]);
  const iv = new Uint8Array(12);
  const sealed = await crypto.subtle.encrypt({ name: "ChaCha20-Poly1305", iv }, chacha, new TextEncoder().encode("typed"));
  const opened = new TextDecoder().decode(await crypto.subtle.decrypt({ name: "ChaCha20-Poly1305", iv }, chacha, sealed));
  const b2s = await crypto.subtle.digest("BLAKE2s-256", "abc");
  let code = "";
  try {
    kv.open("not-granted");
  } catch (e) {
    code = (e as RusmError).code;
  }
  console.log(`typed: runs=${n} copies=${copies} got=${got} hmac=${hex(mac).slice(0, 16)} denied=${code} ` +
              `hkdf=${hex(okm).slice(0, 16)} chacha=${opened} blake2s=${hex(b2s).slice(0, 16)}`);
}

export function handle(req: ServerRequest): ServerResponse {
  const id: string | undefined = req.param("id");
  return { status: 200, headers: { "X-Path": req.path }, body: { id: id ?? null, agent: req.headers["user-agent"] } };
}

export function stream(_req: ServerRequest, events: ServerEvents): void {
  for (let i = 0; events.send({ i }, "tick") && i < 3; i++) {}
}

export function socket(ws: ServerWebSocket): void {
  ws.send(`hi ${ws.param("name") ?? ""}`);
  const m = rusm.receive({ tag: "WS_TEXT", timeout: 1000 });
  if (m !== null) ws.send(new Uint8Array(4));
  ws.close(1000, "bye");
}

export function streamed(_req: ServerRequest, res: ResponseWriter): void {
  res.start(200, { "Content-Type": "text/plain" });
  res.write("one ");
  res.write(new Uint8Array([116, 119, 111]));
  res.end();
}

export function generated(): ServerResponse {
  return { body: (function* () { yield "a"; yield new Uint8Array(1); })() };
}

export async function fetched(url: string): Promise<number> {
  const r = await fetch(url);
  const body: ResponseBody = r.body;
  let n = 0;
  for await (const chunk of body) n += chunk.length;
  const { value, done } = await rusm.fetch(url).body.getReader().read();
  if (!done) n += value.length;
  for (const chunk of rusm.fetch(url).body) n += chunk.byteLength;
  return n;
}

// The cluster's calls (typed, not called here: tests/cluster/js_test.cc runs them).
export function cluster(worker: string): string {
  const [b]: number[] = rusm.nodes();
  const pid: number = rusm.spawnOn(b, worker, "run", [rusm.self(), -1], { timeout: 5000 });
  const watched: { pid: number; ref: number } = rusm.spawnOn(b, worker, "run", [], { monitor: true, link: true });
  rusm.registerGlobal("leader");
  const leader: number | null = rusm.whereisGlobal("leader");
  const sent: boolean = rusm.sendGlobal("leader", "job", { n: 1 }) && rusm.send({ name: "echo", node: b }, 7);
  rusm.monitorNode(b);
  const down = rusm.receive({ tag: "NODE_DOWN", timeout: 1000 });
  const gone: boolean = rusm.unregisterGlobal("leader");
  rusm.monitorNode(b, false);
  return `${pid} ${watched.ref} ${leader} ${sent} ${down === null ? -1 : down.node} ${gone} ${rusm.node()} ${rusm.nodeName(b)}`;
}
