// A supervisor started by a spawned JS process (which started from the app's
// template, so it holds no script): its children start from the template
// too, and a crashed one comes back with the module's top-level state fresh.
let starts = 0;

export function worker(owner) {
  starts += 1; // each start is a fresh copy of the template: always 1
  rusm.send(owner, "up", { pid: rusm.self(), starts });
  const m = rusm.receive();
  if (m.tag === "crash") throw new Error("asked to crash");
}

export function manager(main) {
  const me = rusm.self();
  rusm.supervisor.start({
    strategy: "one_for_one",
    intensity: 5,
    period: 10000,
    children: [{ id: "w", start: worker, args: [me] }],
  });
  const first = rusm.receive({ tag: "up", timeout: 10000 }).json();
  rusm.send(first.pid, "crash");
  const second = rusm.receive({ tag: "up", timeout: 10000 }).json();
  rusm.send(main, "done", { restarted: second.pid !== first.pid, starts: [first.starts, second.starts] });
  rusm.receive({ tag: "never", timeout: 100 });
}

export function main() {
  rusm.spawn("manager", [rusm.self()]);
  const r = rusm.receive({ tag: "done", timeout: 20000 }).json();
  console.log(`restarted=${r.restarted} starts=${r.starts.join(",")}`);
}
