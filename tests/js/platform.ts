// The platform API from TypeScript, type-checked against guest/js/rusm.d.ts
// (test guest.js_dts, tsc --strict) and run (runtime.cli.ts_platform): a
// KV counter, a topic delivered to this process, an HMAC; and handlers of
// the three kinds of route a script can serve (typed, not called here).
import rusm, {
  kv,
  type Bucket,
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
  let code = "";
  try {
    kv.open("not-granted");
  } catch (e) {
    code = (e as RusmError).code;
  }
  console.log(`typed: runs=${n} copies=${copies} got=${got} hmac=${hex(mac).slice(0, 16)} denied=${code}`);
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
