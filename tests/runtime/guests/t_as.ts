// Conformance guest of the AssemblyScript SDK (guest/assemblyscript/rusm):
// every wrapper of the SDK against the real runtime, each result asserted.
// `rusm run t_as.wasm --allow spawn --allow proc --allow registry
// --allow pubsub --allow crypto --allow kv:app --allow-net 127.0.0.1:1 --kv FILE` prints "as sdk conformance: ok (N checks)" and
// exits 0, or prints the first failed check and exits 1.
import * as rusm from "rusm";
import * as sys from "rusm/sys";
// spawnFn's trampoline must be an export of the entry file.
export { __rusm_run } from "rusm";

let checks = 0;

function check(ok: bool, what: string): void {
  checks++;
  if (!ok) {
    console.log("as sdk conformance: FAIL: " + what);
    process.exit(1);
  }
}

function down(what: string): rusm.Exit {
  const m = rusm.receiveTag(rusm.TAG_DOWN, 5000);
  check(m != null, what + ": a DOWN within 5 s");
  const e = changetype<rusm.Message>(m).exit();
  check(e != null, what + ": the DOWN decodes");
  return changetype<rusm.Exit>(e);
}

function u64Bytes(v: u64): Uint8Array {
  const b = new Uint8Array(8);
  store<u64>(b.dataStart, v);
  return b;
}

function u64Of(m: rusm.Message): u64 {
  return m.data.byteLength >= 8 ? load<u64>(m.data.dataStart) : 0xffffffffffffffff;
}

// ---- the processes the checks spawn --------------------------------------------

export function echo(): void {
  for (;;) {
    const m = rusm.receive();
    if (rusm.send(m.from, m.tag, m.data) != sys.OK) return;
  }
}

export function crasher(): void {
  rusm.exitError("boom");
}

export function aborter(): void {
  assert(rusm.self() == 0, "broken invariant");
}

export function unwrapper(): void {
  rusm.Bucket.open("secret").expect("open secret");
}

export function sleeper(): void {
  rusm.sleep(-1);
}

// Spawned without capabilities: reports what register says.
export function caps_child(boss: u64): void {
  rusm.send(boss, 30, u64Bytes(<u64>(<i64>rusm.register("caps-child"))));
}

// Spawned with SpawnOptions.trapExit: reports whether it traps exits.
export function trapping(boss: u64): void {
  rusm.send(boss, 31, u64Bytes(rusm.trapExit(true) ? 1 : 0));
}

export function shutdowner(): void {
  rusm.exitShutdown("going away");
}

export function normal(): void {
  rusm.exitNormal();
  rusm.exitError("exitNormal returned");
}

// Not exported: started by reference with spawnFn.
function byReference(boss: u64): void {
  rusm.send(boss, 32, "by reference");
}

// A supervisor's child: reports (tag 20) its argument, then crashes on tag 21.
export function sup_child(boss: u64, arg: u64): void {
  rusm.send(boss, 20, u64Bytes(arg));
  rusm.receiveTag(21);
  rusm.exitError("asked to crash");
}

export function _start(): void {
  // ---- the process ----
  check(rusm.abiVersion() == sys.ABI_VERSION, "abi_version");
  const me = rusm.self();
  check(me != 0 && rusm.isAlive(me), "self is alive");
  check(rusm.parent() == 0, "the host spawned the main process");
  check(rusm.errorName(sys.ECONFLICT) == "ECONFLICT" && rusm.errorName(-99) == "E-99", "errorName");
  check(rusm.errorName(sys.OK) == "OK" && rusm.errorName(sys.EIO) == "EIO", "errorName of the first and last code");
  check(
    offsetof<sys.rusm_msg>("size") == 24 &&
      offsetof<sys.rusm_msg>() == sys.rusm_msg.SIZE &&
      sys.rusm_msg.SIZE == 32 &&
      offsetof<sys.rusm_spawn_opts>("label") == 16 &&
      offsetof<sys.rusm_spawn_opts>() == 24 &&
      offsetof<sys.rusm_child_spec>("caps") == 44 &&
      offsetof<sys.rusm_child_spec>() == sys.rusm_child_spec.SIZE &&
      sys.rusm_child_spec.SIZE == 48 &&
      offsetof<sys.rusm_down_payload>("detail_len") == 20 &&
      offsetof<sys.rusm_exit_payload>() == 16,
    "the generated structs have C's wasm32 layout",
  );
  check(rusm.setLabel("as-conformance") == sys.OK, "setLabel");
  const info = rusm.processInfo(me);
  check(info.ok && info.value.includes("label=as-conformance"), "processInfo shows the label");

  // ---- messages: strings, bytes, a large one, selective receive ----
  const echoPid = rusm.spawnLink("echo").unwrap();
  check(rusm.send(echoPid, 7, "hello") == sys.OK, "send a string");
  let m = rusm.receive();
  check(m.tag == 7 && m.from == echoPid && m.text() == "hello", "a string round trip");
  const big = new Uint8Array(5000);
  for (let i = 0; i < big.length; i++) big[i] = <u8>(i % 251);
  rusm.send(echoPid, 8, big);
  m = rusm.receive();
  let same = m.data.byteLength == big.byteLength;
  for (let i = 0; same && i < big.length; i++) same = m.data[i] == big[i];
  check(same, "a 5000-byte message (read past the first buffer)");
  const ab = new ArrayBuffer(3);
  store<u8>(changetype<usize>(ab), 0x61, 2);
  rusm.send(echoPid, 9, ab);
  m = rusm.receive();
  check(m.data.byteLength == 3 && m.data[2] == 0x61, "an ArrayBuffer round trip");
  rusm.send(echoPid, 10, "first");
  rusm.send(echoPid, 11, "second");
  const second = rusm.receiveTag(11, 5000);
  check(second != null && changetype<rusm.Message>(second).text() == "second", "receiveTag picks tag 11");
  check(rusm.receive().text() == "first", "the skipped message stays queued");
  check(rusm.receiveTimeout(5) == null, "receiveTimeout gives null");
  check(rusm.receiveTag(12345, 0) == null, "a poll for a tag nobody sent");
  check(rusm.send(echoPid, rusm.TAG_DOWN, "x") == sys.EBADARG, "a reserved tag is EBADARG");
  check(rusm.send(0, 1, "x") == sys.EBADARG, "pid 0 is EBADARG");

  // ---- spawn errors and options ----
  check(rusm.spawn("no_such_function").error == sys.ENOTFOUND, "spawn of a missing export");
  check(rusm.spawn("caps_child").error == sys.EBADARG, "spawn with a missing argument");
  const o = new rusm.SpawnOptions();
  o.caps = 0;
  o.label = "no-caps";
  check(rusm.spawnWith("caps_child", [me], o).ok, "spawnWith caps and a label");
  m = changetype<rusm.Message>(rusm.receiveTag(30, 5000));
  check(<i64>u64Of(m) == sys.EDENIED, "a child spawned without caps cannot register");

  o.caps = -1;
  o.label = null;
  o.trapExit = true;
  check(rusm.spawnWith("trapping", [me], o).ok, "spawnWith trapExit");
  m = changetype<rusm.Message>(rusm.receiveTag(31, 5000));
  check(u64Of(m) == 1, "the child traps exits from the start");
  const byRef = rusm.spawnFn(byReference, me);
  check(byRef.ok, "spawnFn: " + rusm.errorName(byRef.error));
  m = changetype<rusm.Message>(rusm.receiveTag(32, 5000));
  check(m.from == byRef.value.pid && m.text() == "by reference", "spawnFn runs the function it was given");

  // ---- monitors: DOWN decoded, aborts and unwraps end the process ----
  let s = rusm.spawnMonitor("crasher").unwrap();
  let e = down("crasher");
  check(e.from == s.pid && e.monitor == s.monitor, "the DOWN names the process and the monitor");
  check(e.kind == rusm.REASON_ERROR && e.detail.includes("boom"), "exitError's detail");
  s = rusm.spawnMonitor("aborter").unwrap();
  e = down("aborter");
  check(
    e.from == s.pid && e.detail.includes("abort: broken invariant at") && e.detail.includes("t_as.ts"),
    "an abort ends the process with its message and place: " + e.detail,
  );
  const place = e.detail.substring(e.detail.indexOf("t_as.ts:") + 8).split(":");
  check(
    place.length == 2 && I32.parseInt(place[0]) > 0 && I32.parseInt(place[1]) > 0,
    "the abort's place has a line and a column: " + e.detail,
  );
  s = rusm.spawnMonitor("unwrapper").unwrap();
  e = down("unwrapper");
  check(e.detail.includes("open secret: EDENIED"), "expect() ends the process: " + e.detail);
  s = rusm.spawnMonitor("shutdowner").unwrap();
  e = down("shutdowner");
  check(e.kind == rusm.REASON_SHUTDOWN && e.detail.includes("going away"), "exitShutdown: " + e.detail);
  s = rusm.spawnMonitor("normal").unwrap();
  e = down("normal");
  check(e.kind == rusm.REASON_NORMAL, "exitNormal: " + e.kind.toString() + " " + e.detail);
  const sl = rusm.spawn("sleeper").unwrap();
  const ref = rusm.monitor(sl).unwrap();
  check(rusm.demonitor(ref, true), "demonitor of an active monitor");
  check(!rusm.demonitor(ref, true), "demonitor twice");
  rusm.monitor(sl).unwrap();
  check(rusm.exitPid(sl, "stop") == sys.OK, "exitPid");
  e = down("exitPid");
  check(e.from == sl && e.detail.includes("stop"), "the exit signal's reason");
  check(!rusm.isAlive(sl), "the process is gone");
  const dead = rusm.monitor(sl).unwrap();
  e = down("a dead process");
  check(e.kind == rusm.REASON_NOPROC && e.monitor == dead, "monitor of a dead process: noproc");

  // ---- links and trap_exit: EXIT decoded ----
  check(rusm.link(echoPid) == sys.OK && rusm.unlink(echoPid) == sys.OK, "link and unlink");
  check(!rusm.trapExit(true), "trapExit returns the previous setting");
  const c = rusm.spawnLink("crasher").unwrap();
  m = changetype<rusm.Message>(rusm.receiveTag(rusm.TAG_EXIT, 5000));
  check(m.isExit() && !m.isDown(), "an EXIT message");
  e = changetype<rusm.Exit>(m.exit());
  check(e.from == c && e.kind == rusm.REASON_ERROR && e.detail.includes("boom"), "the EXIT decodes");
  check(rusm.trapExit(true), "trap_exit is on");

  // ---- the registry ----
  check(rusm.register("as-all") == sys.OK, "register");
  check(rusm.register("as-all") == sys.EEXISTS, "register twice");
  check(rusm.whereis("as-all") == me && rusm.whereis("nobody") == 0, "whereis");
  check(rusm.sendName("as-all", 12, "named") == sys.OK, "sendName");
  m = changetype<rusm.Message>(rusm.receiveTag(12, 5000));
  check(m.text() == "named" && m.from == me, "a message sent by name");
  check(rusm.sendName("nobody", 12, "x") == sys.ENOTFOUND, "sendName to nobody");
  check(rusm.unregister("as-all") == sys.OK && rusm.whereis("as-all") == 0, "unregister");
  check(rusm.unregister("as-all") == sys.ENOTFOUND, "unregister twice");

  // ---- global names and nodes (a node alone) ----
  check(rusm.registerGlobal("as-global") == sys.OK, "registerGlobal");
  check(rusm.whereisGlobal("as-global") == me && rusm.whereisGlobal("nobody") == 0, "whereisGlobal");
  check(rusm.sendGlobal("as-global", 41, "global") == sys.OK, "sendGlobal");
  m = changetype<rusm.Message>(rusm.receiveTag(41, 5000));
  check(m.text() == "global", "a message sent to a global name");
  check(rusm.unregisterGlobal("as-global") == sys.OK && rusm.whereisGlobal("as-global") == 0, "unregisterGlobal");
  check(rusm.nodes().length == 0, "no other nodes");
  check(rusm.nodeName(rusm.nodeSelf()).ok, "this node has a name");
  const all = rusm.processes();
  check(all.ok && all.value.includes(me) && all.value.includes(echoPid), "processes lists the live ones");

  // ---- topics ----
  check(rusm.subscribe("as-topic") == sys.OK, "subscribe");
  const copies = rusm.publish("as-topic", 40, "news");
  check(copies.ok && copies.value == 1, "publish reaches the one subscriber");
  m = changetype<rusm.Message>(rusm.receiveTag(40, 5000));
  check(m.text() == "news" && m.from == me, "the published message");
  check(rusm.unsubscribe("as-topic") == sys.OK, "unsubscribe");
  check(rusm.unsubscribe("as-topic") == sys.ENOTFOUND, "unsubscribe twice");
  check(rusm.publish("as-topic", 40, "again").unwrap() == 0, "no subscriber, no copy");

  // ---- crypto ----
  const rnd = rusm.randomBytes(32).unwrap();
  let nonzero = false;
  for (let i = 0; i < rnd.length; i++) nonzero = nonzero || rnd[i] != 0;
  check(rnd.length == 32 && nonzero, "randomBytes");
  check(
    rusm.hex(rusm.digest(sys.HASH_SHA256, "abc").unwrap()) ==
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "digest SHA-256 of abc",
  );
  check(
    rusm.hex(rusm.hmac(sys.HASH_SHA256, "key", "The quick brown fox jumps over the lazy dog").unwrap()) ==
      "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
    "HMAC-SHA-256",
  );
  check(rusm.digest(99, "x").error == sys.ENOTSUP, "an unknown hash");

  // ---- timers, sleep ----
  const t = rusm.sendAfter(10, me, 13, "tick");
  check(t.ok && t.value > 0, "sendAfter");
  m = changetype<rusm.Message>(rusm.receiveTag(13, 5000));
  check(m.text() == "tick", "the timer's message");
  const late = rusm.sendAfter(60000, me, 14, "never").unwrap();
  const left = rusm.cancelTimer(late);
  check(left.ok && left.value > 0, "cancelTimer gives the time left");
  check(rusm.cancelTimer(late).error == sys.ENOTFOUND, "cancelTimer twice");
  check(rusm.receiveTag(14, 20) == null, "a cancelled timer sends nothing");
  rusm.sleep(2);
  rusm.yieldNow();

  // ---- supervisors ----
  const tmpl = [new rusm.ChildSpec("tmpl", "sup_child", [me])];
  const pool = rusm.Supervisor.start(rusm.SIMPLE_ONE_FOR_ONE, tmpl).unwrap();
  const kid = pool.startChild([77]);
  check(kid.ok, "startChild: " + rusm.errorName(kid.error));
  m = changetype<rusm.Message>(rusm.receiveTag(20, 5000));
  check(m.from == kid.value && u64Of(m) == 77, "the child got the template's and its own arguments");
  let kids = pool.whichChildren().unwrap();
  check(kids.length == 1 && kids[0] == kid.value, "whichChildren");
  check(pool.terminateChild(kid.value) == sys.OK, "terminateChild");
  check(pool.whichChildren().unwrap().length == 0, "no children after terminateChild");
  check(pool.startChild([]).error == sys.EBADARG, "startChild with too few arguments");

  const one = rusm.Supervisor.start(rusm.ONE_FOR_ONE, [new rusm.ChildSpec("a", "sup_child", [me, 5])], 5, 5000).unwrap();
  m = changetype<rusm.Message>(rusm.receiveTag(20, 5000));
  const first = m.from;
  check(u64Of(m) == 5, "a one_for_one child started");
  rusm.send(first, 21, "crash");
  m = changetype<rusm.Message>(rusm.receiveTag(20, 5000));
  check(m.from != first && u64Of(m) == 5, "the crashed child was restarted");
  kids = one.whichChildren().unwrap();
  check(kids.length == 1 && kids[0] == m.from, "whichChildren names the restarted child");
  check(
    rusm.Supervisor.start(rusm.ONE_FOR_ONE, [new rusm.ChildSpec("x", "nothing_here")]).error == sys.ENOTFOUND,
    "a supervisor of a missing function",
  );

  // ---- the key-value store (bucket "app" granted; the file may be reused) ----
  const opened = rusm.Bucket.open("app");
  check(opened.ok, "Bucket.open: " + rusm.errorName(opened.error));
  const b = opened.value;
  const keys = ["k", "long", "n", "text", "new", "l/1", "l/2", "l/3", "b/1", "b/2"];
  for (let i = 0; i < keys.length; i++) b.delete(keys[i]).unwrap();
  check(b.put("k", "v1") == sys.OK, "put a string");
  const got = b.get("k").unwrap();
  check(got != null && String.UTF8.decodeUnsafe(got.dataStart, got.byteLength) == "v1", "get");
  check(b.getText("k").unwrap() == "v1", "getText");
  const longValue = new Uint8Array(1000).fill(0x78);
  check(b.put(Uint8Array.wrap(String.UTF8.encode("long")), longValue) == sys.OK, "put bytes");
  const gotLong = b.get("long").unwrap();
  check(gotLong != null && gotLong.byteLength == 1000 && gotLong[999] == 0x78, "get a 1000-byte value");
  check(b.get("missing").unwrap() == null && b.getText("missing").unwrap() == null, "get a missing key");
  check(b.incr("n", 5).unwrap() == 5 && b.incr("n").unwrap() == 6, "incr");
  check(b.getText("n").unwrap() == "6", "incr stores decimal text");
  check(b.incr("k", 1).error == sys.EBADSTATE, "incr of a value that is not a number");
  check(!b.compareAndSwap("k", "v0", "v2").unwrap(), "compareAndSwap with another value");
  check(b.compareAndSwap("k", "v1", "v2").unwrap() && b.getText("k").unwrap() == "v2", "compareAndSwap");
  check(b.putIfAbsent("new", "1").unwrap() && !b.putIfAbsent("new", "2").unwrap(), "putIfAbsent");
  check(!b.deleteIf("new", "2").unwrap() && b.deleteIf("new", "1").unwrap(), "deleteIf");
  check(b.delete("k").unwrap() && !b.delete("k").unwrap(), "delete");
  b.put("l/1", "a");
  b.put("l/2", "bb");
  b.put("l/3", "ccc");
  const page = b.list("l/", null, true).unwrap();
  check(
    page.length == 3 && page[0].keyText() == "l/1" && page[2].valueText() == "ccc",
    "list with values",
  );
  const rest = b.list("l/", page[0].key).unwrap();
  check(rest.length == 2 && rest[0].keyText() == "l/2" && rest[0].value.byteLength == 0, "list after a key");
  const done = b.batch(new rusm.KvBatch().checkAbsent("b/1").put("b/1", "x").put("b/2", "y"));
  check(done.ok && done.value == -1, "a batch commits");
  check(b.getText("b/1").unwrap() == "x" && b.getText("b/2").unwrap() == "y", "the batch's writes");
  const refused = b.batch(new rusm.KvBatch().delete("b/2").check("b/2", "y").check("b/1", "wrong"));
  check(refused.ok && refused.value == 2, "a failed check names its step");
  check(b.getText("b/2").unwrap() == "y", "a refused batch writes nothing");
  check(b.batch(new rusm.KvBatch().delete("b/1").delete("b/2")).unwrap() == -1, "a batch of deletes");
  check(b.get("b/1").unwrap() == null && b.get("b/2").unwrap() == null, "the deletes happened");
  check(rusm.Bucket.open("secret").error == sys.EDENIED, "a bucket not granted");
  check(b.close() == sys.OK && b.get("n").error == sys.EBADARG, "close");

  // ---- fetch: the run grants 127.0.0.1:1 only (nothing listens there) ----
  check(rusm.fetch(new rusm.FetchRequest("http://127.0.0.1:2/")).error == sys.EDENIED, "a port not granted");
  check(rusm.fetch(new rusm.FetchRequest("http://example.com:1/")).error == sys.EDENIED, "a host not granted");
  check(rusm.fetch(new rusm.FetchRequest("http://127.0.0.1:1/")).error == sys.ENOTCONN, "granted, nobody listening");
  check(rusm.fetch(new rusm.FetchRequest("ftp://127.0.0.1:1/")).error == sys.EBADARG, "not an http URL");
  const hosted = new rusm.FetchRequest("http://127.0.0.1:1/");
  hosted.headers = "Host: x\r\n";
  check(rusm.fetch(hosted).error == sys.EBADARG, "the host's own header");

  console.log("as sdk conformance: ok (" + checks.toString() + " checks)");
}
