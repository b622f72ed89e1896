// The platform's calls from a JS process, timed (guest/js/bench/platform.sh
// runs it and platform_c.c in the same run): a spawn and a supervisor's
// startChild until the child's first message, kv incr (a durable commit)
// and get, HMAC-SHA-256 and SHA-256 of 256 bytes, a publish to itself.
export function child(owner) {
  rusm.send(owner, "up", "");
}

export async function main(n = "200") {
  const N = Number(n);
  const me = rusm.self();
  const per = (t, scale) => ((Date.now() - t) * scale) / N;
  let t = Date.now();
  for (let i = 0; i < N; i++) {
    rusm.spawn("child", [me]);
    rusm.receive({ tag: "up" });
  }
  const spawnMs = per(t, 1);
  const pool = rusm.supervisor.start({
    strategy: "simple_one_for_one",
    children: [{ start: "child", args: [me], restart: "temporary" }],
  });
  t = Date.now();
  for (let i = 0; i < N; i++) {
    pool.startChild([]);
    rusm.receive({ tag: "up" });
  }
  const startChildMs = per(t, 1);
  const b = rusm.kv.open("bench");
  t = Date.now();
  for (let i = 0; i < N; i++) b.incr("n");
  const incrUs = per(t, 1000);
  t = Date.now();
  for (let i = 0; i < N; i++) b.get("n");
  const getUs = per(t, 1000);
  const key = await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const data = new Uint8Array(256);
  t = Date.now();
  for (let i = 0; i < N; i++) await crypto.subtle.sign("HMAC", key, data);
  const hmacUs = per(t, 1000);
  t = Date.now();
  for (let i = 0; i < N; i++) await crypto.subtle.digest("SHA-256", data);
  const digestUs = per(t, 1000);
  rusm.subscribe("t");
  t = Date.now();
  for (let i = 0; i < N; i++) {
    rusm.publish("t", "x");
    rusm.receive({ tag: "t" });
  }
  const publishUs = per(t, 1000);
  console.log(JSON.stringify({ kind: "js", spawn_ms: spawnMs, start_child_ms: startChildMs, kv_incr_us: incrUs,
                               kv_get_us: getUs, hmac_us: hmacUs, digest_us: digestUs, publish_us: publishUs }));
}
