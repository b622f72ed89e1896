// register / whereis / send by name, monitor and DOWN, sendAfter and cancelTimer.
export function server() {
  rusm.register("echo");
  rusm.send(rusm.parent(), "ready");
  const m = rusm.receive();
  rusm.send(m.from, "reply", m.text().toUpperCase());
  rusm.exit("shutdown", "done");
}

export function main() {
  const { pid, ref } = rusm.spawnMonitor("server");
  rusm.receive({ tag: "ready" });
  const found = rusm.whereis("echo") === pid;
  rusm.send("echo", "req", "by name");
  const reply = rusm.receive({ tag: "reply" }).text();
  const down = rusm.receive({ tag: "DOWN" });
  const t = rusm.sendAfter(10000, rusm.self(), "late", "");
  const left = rusm.cancelTimer(t);
  console.log(`whereis=${found} reply=${reply} down=${down.ref === ref}/${down.reason}/${down.detail} ` +
              `cancelled=${left > 0} gone=${rusm.whereis("echo")}`);
}
