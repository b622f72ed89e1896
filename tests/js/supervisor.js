// Supervisors over JS children (docs/js.md "Supervisors"). A one_for_one
// supervisor restarts a worker that crashes (a new pid, which_children
// follows it), terminate_child stops one for good, one_for_all restarts
// both children when one crashes, simple_one_for_one
// starts children with arguments, and a supervisor past its intensity ends
// (its boot server with it).
export function worker(owner, name) {
  rusm.send(owner, "up", { name, pid: rusm.self(), parentIsSup: rusm.parent() !== owner });
  for (;;) {
    const m = rusm.receive();
    if (m.tag === "crash") throw new Error(`${name} asked to crash`);
  }
}

export function greeter(owner, greeting, who) {
  rusm.send(owner, "hi", `${greeting}, ${who}`);
  rusm.receive({ tag: "never" });
}

export function crasher() {
  throw new Error("crashes at once");
}

const up = () => rusm.receive({ tag: "up", timeout: 10000 }).json();

export function main() {
  const me = rusm.self();
  const sup = rusm.supervisor.start({
    strategy: "one_for_one",
    intensity: 5,
    period: 10000,
    children: [
      { id: "a", start: worker, args: [me, "a"] },
      { id: "b", start: "worker", args: [me, "b"], restart: "transient" },
    ],
  });
  const first = [up(), up()].sort((x, y) => (x.name < y.name ? -1 : 1));
  const before = sup.whichChildren();
  rusm.send(first[0].pid, "crash");
  const again = up();
  const after = sup.whichChildren();
  const restarted = again.name === "a" && again.pid !== first[0].pid && !rusm.isAlive(first[0].pid);
  const stopped = sup.terminateChild(again.pid);
  const unknown = sup.terminateChild(again.pid);
  const left = sup.whichChildren();
  console.log(`started=${before.length} parentIsSup=${first[0].parentIsSup} restarted=${restarted} ` +
              `children=${after.length} follows=${after.includes(again.pid) && after.includes(first[1].pid)} ` +
              `terminated=${stopped}/${unknown} left=${left.length}:${left[0] === first[1].pid}`);

  const pool = rusm.supervisor.start({
    strategy: "simple_one_for_one",
    children: [{ start: greeter, args: [me, "hello"], restart: "temporary" }],
  });
  const empty = pool.whichChildren().length;
  const g1 = pool.startChild(["ada"]);
  const g2 = pool.startChild(["grace"]);
  const his = [rusm.receive({ tag: "hi", timeout: 10000 }).text(), rusm.receive({ tag: "hi", timeout: 10000 }).text()].sort();
  console.log(`pool: empty=${empty} ${his.join(" / ")} children=${pool.whichChildren().length} distinct=${g1 !== g2}`);

  // one_for_all: one crash restarts both children.
  const all = rusm.supervisor.start({
    strategy: "one_for_all",
    children: [{ id: "x", start: worker, args: [me, "x"] }, { id: "y", start: worker, args: [me, "y"] }],
  });
  const xy = [up(), up()];
  rusm.send(xy[0].pid, "crash");
  const xy2 = [up(), up()];
  const fresh = xy2.every((n) => !xy.some((o) => o.pid === n.pid)) && xy.every((o) => !rusm.isAlive(o.pid));
  console.log(`one_for_all: both restarted=${fresh} children=${all.whichChildren().length}`);

  // Past its intensity (2 restarts in 10 s) the supervisor gives up.
  rusm.trapExit(true);
  const doomed = rusm.supervisor.start({ intensity: 2, period: 10000, children: [{ start: "crasher" }] });
  const exit = rusm.receive({ tag: "EXIT", timeout: 20000 });
  rusm.sleep(100);
  console.log(`gave up: ${exit !== null && exit.from === doomed.pid} reason=${exit && exit.reason} ` +
              `server gone=${!rusm.isAlive(doomed.server)}`);
}
