// Spawn cost and idle size of JavaScript processes (guest/js/bench/run.sh).
//   rusm run spawn.js --allow spawn --allow clock -- N
// Prints one line of JSON: spawns per second of a JS process that returns
// at once (each spawned with a monitor, all DOWNs awaited), and the memory
// the host counts for an idle JS process (blocked in receive).
export function nop() {}

export function idle() {
  rusm.send(rusm.parent(), "up", JSON.stringify(rusm.info()));
  rusm.receive({ tag: "stop" });
}

export function main(n = "200") {
  const count = Number(n);
  const t0 = Date.now();
  for (let i = 0; i < count; i++) rusm.spawnMonitor("nop", [], { stdio: false });
  for (let i = 0; i < count; i++) rusm.receive({ tag: "DOWN" });
  const seconds = (Date.now() - t0) / 1000;

  const kids = [];
  for (let i = 0; i < 20; i++) kids.push(rusm.spawn("idle", [], { stdio: false }));
  let memory = 0;
  for (let i = 0; i < kids.length; i++) memory += rusm.receive({ tag: "up" }).json().memory;
  for (const k of kids) rusm.send(k, "stop");
  console.log(JSON.stringify({
    kind: "js", spawned: count, spawns_per_s: Math.round(count / seconds),
    idle_bytes: Math.round(memory / kids.length),
  }));
}
