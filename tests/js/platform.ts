// The platform API from TypeScript, type-checked against guest/js/rusm.d.ts
// (test guest.js_dts, tsc --strict) and run (runtime.cli.ts_platform): a
// KV counter, a topic delivered to this process, an HMAC.
import rusm, { kv, type Bucket, type RusmError } from "rusm";

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
