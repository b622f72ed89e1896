// A linked child that throws: its parent traps exits and sees an EXIT
// message naming the error, the file and the line.
export function crasher(what) {
  rusm.receive({ tag: "go" });
  null.boom(what);
}

export function main() {
  rusm.trapExit(true);
  const child = rusm.spawnLink("crasher", ["x"], { stdio: false });
  rusm.send(child, "go");
  const m = rusm.receive({ tag: "EXIT", timeout: 5000 });
  console.log(`EXIT from child: ${m.from === child} reason=${m.reason} detail=${m.detail}`);
}
