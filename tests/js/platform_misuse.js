// Misuse of the platform API gives clear errors, never a crash: one line
// per attempt (its error's name, code and message, or what it returned),
// then large values through the paths that grow their buffers (a get over
// the first buffer, a list page over 64 KiB).
export function worker() {
  rusm.receive();
}

const attempts = {
  "kv empty key": () => rusm.kv.open("app").put("", "x"),
  "kv long key": () => rusm.kv.open("app").put("k".repeat(1025), "x"),
  "kv value over 1 MiB": () => rusm.kv.open("app").put("big", new Uint8Array(1024 * 1024 + 1)),
  "kv no value": () => rusm.kv.open("app").put("k"),
  "kv key of a number": () => rusm.kv.open("app").get(42),
  "kv fractional incr": () => rusm.kv.open("app").incr("n", 0.5),
  "kv bad batch op": () => rusm.kv.open("app").batch([{ op: "upsert", key: "k", value: "v" }]),
  "kv bad list limit": () => rusm.kv.open("app").list("", { limit: 0 }),
  "empty topic": () => rusm.publish("", "x"),
  "long topic": () => rusm.subscribe("t".repeat(256)),
  "missing export": () => rusm.supervisor.start({ children: [{ start: "nope" }] }),
  "bad strategy": () => rusm.supervisor.start({ strategy: "one_for_some", children: [] }),
  "bad restart": () => rusm.supervisor.start({ children: [{ start: "worker", restart: "sometimes" }] }),
  "two templates": () => rusm.supervisor.start({ strategy: "simple_one_for_one", children: [{ start: "worker" }, { start: "worker" }] }),
  "startChild on one_for_one": () => rusm.supervisor.start({ children: [] }).startChild([1]),
  "terminate a string": () => rusm.supervisor.start({ children: [] }).terminateChild("x"),
  "unknown child": () => rusm.supervisor.start({ children: [] }).terminateChild(rusm.self()),
  "hmac key for verify only": async () => {
    const k = await crypto.subtle.importKey("raw", new Uint8Array(8), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    await crypto.subtle.sign("HMAC", k, new Uint8Array(1));
  },
  "hmac with MD5": () => crypto.subtle.importKey("raw", new Uint8Array(8), { name: "HMAC", hash: "MD5" }, false, ["sign"]),
  "aes key of 24 bytes": () => crypto.subtle.importKey("raw", new Uint8Array(24), "AES-GCM", false, ["encrypt"]),
  "aes iv of 16 bytes": async () => {
    const k = await crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: new Uint8Array(16) }, k, new Uint8Array(1));
  },
  "not a key": () => crypto.subtle.sign("HMAC", { type: "secret", usages: ["sign"] }, new Uint8Array(1)),
  "ed25519 pkcs8 of junk": () => crypto.subtle.importKey("pkcs8", new Uint8Array(48), "Ed25519", false, ["sign"]),
  "ecdsa P-384": () => crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, ["sign"]),
  "jwk": () => crypto.subtle.importKey("jwk", {}, "AES-GCM", false, ["encrypt"]),
};

export async function main() {
  for (const [name, f] of Object.entries(attempts)) {
    try {
      console.log(`${name}: returned ${await f()}`);
    } catch (e) {
      const message = e.message.replace(rusm.script, "SCRIPT");
      console.log(`${name}: ${e.name}${e.code ? " " + e.code : ""}: ${message}`);
    }
  }
  const b = rusm.kv.open("app");
  const big = new Uint8Array(700 * 1024).map((_, i) => i & 0xff);
  b.put("big/1", big);
  b.put("big/2", big);
  const back = b.get("big/1");
  const page = b.list("big/");
  console.log(`big: ${back.length} ${back.every((x, i) => x === (i & 0xff))} listed ${page.entries.length} ` +
              `${page.entries.every((e) => e.value.length === big.length)}`);
}
