// Two JS processes exchange N pings; the child is started by name.
export function pong() {
  for (;;) {
    const m = rusm.receive();
    if (m.tag === "stop") return;
    rusm.send(m.from, "pong", m.text() + "!");
  }
}

export function main(n = "100") {
  const count = Number(n);
  const p = rusm.spawn("pong");
  let last = "";
  for (let i = 0; i < count; i++) {
    rusm.send(p, "ping", `ping ${i}`);
    const m = rusm.receive({ tag: "pong" });
    if (m.from !== p) throw new Error(`pong from ${m.from}, expected ${p}`);
    last = m.text();
  }
  rusm.send(p, "stop");
  console.log(`${count} round trips with process ${p}, last answer: ${last}`);
}
