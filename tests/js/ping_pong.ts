// Two TypeScript processes exchange N pings; the child is started by name.
type Pid = number;

interface Ping {
  seq: number;
  text: string;
}

export function pong(): void {
  for (;;) {
    const m = rusm.receive();
    if (m.tag === "stop") return;
    const p = m.json() as Ping;
    rusm.send(m.from, "pong", { seq: p.seq, text: p.text + "!" } satisfies Ping);
  }
}

export function main(n: string = "100"): void {
  const count: number = Number(n);
  const p: Pid = rusm.spawn("pong");
  let last: Ping | undefined;
  for (let i = 0; i < count; i++) {
    rusm.send(p, "ping", { seq: i, text: `ping ${i}` });
    const m = rusm.receive({ tag: "pong" });
    if (m.from !== p) throw new Error(`pong from ${m.from}, expected ${p}`);
    last = m.json() as Ping;
    if (last.seq !== i) throw new Error(`pong ${last.seq}, expected ${i}`);
  }
  rusm.send(p, "stop");
  console.log(`${count} TypeScript round trips with process ${p}, last answer: ${last?.text}`);
}
