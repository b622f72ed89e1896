// Each platform call without its capability throws an Error whose code is
// EDENIED (run with only --allow spawn, or nothing): one line per call.
const attempts = {
  kv: () => rusm.kv.open("app"),
  publish: () => rusm.publish("news", "x"),
  subscribe: () => rusm.subscribe("news"),
  hmac: async () => {
    const k = await crypto.subtle.importKey("raw", new Uint8Array(4), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    await crypto.subtle.sign("HMAC", k, new Uint8Array(1));
  },
  hkdf: async () => {
    const k = await crypto.subtle.importKey("raw", new Uint8Array(4), "HKDF", false, ["deriveBits"]);
    await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new Uint8Array(0) }, k, 256);
  },
  uuid: () => crypto.randomUUID(),
  supervisor: () => rusm.supervisor.start({ children: [{ start: "main" }] }),
};

export async function main() {
  for (const [name, f] of Object.entries(attempts)) {
    try {
      await f();
      console.log(`${name}: allowed?!`);
    } catch (e) {
      console.log(`${name}: ${e.code} (${e.message})`);
    }
  }
}
