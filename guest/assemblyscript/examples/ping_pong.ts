// Two processes bouncing a message:
// `rusm run ping_pong.wasm --allow spawn -- 1000`.
import * as rusm from "rusm";
import * as sys from "rusm/sys";

// The other process: answers every message to its sender, same tag.
export function pong(): void {
  for (;;) {
    const m = rusm.receive();
    if (rusm.send(m.from, m.tag, m.data) != sys.OK) return;
  }
}

export function _start(): void {
  const argv = process.argv;
  const n: u64 = argv.length > 1 ? U64.parseInt(argv[1]) : 1000;
  const p = rusm.spawnLink("pong").expect("spawn (grant it with --allow spawn)");
  for (let i: u64 = 1; i <= n; i++) {
    rusm.check(rusm.send(p, i, "ping"), "send");
    const m = rusm.receive();
    assert(m.tag == i && m.text() == "ping", "pong answered something else");
  }
  console.log(n.toString() + " round trips with process " + p.toString());
}
