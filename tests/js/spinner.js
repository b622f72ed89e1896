// Fair preemption: a process that never ends (a busy loop without a single
// host call) does not stop a timer from firing in another process, even on
// one worker thread.
export function spin() {
  let x = 0;
  for (;;) x = (x + 1) | 0;
}

export function main() {
  const s = rusm.spawn("spin");
  const t0 = rusm.self();
  rusm.sendAfter(100, t0, "tick", "timer fired");
  const m = rusm.receive({ tag: "tick", timeout: 10000 });
  console.log(m ? m.text() + " while the spinner runs" : "timer starved");
  rusm.kill(s);
}
