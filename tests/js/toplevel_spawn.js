// Top-level code runs in every process of the script; a child refuses to
// spawn from there (it would spawn itself again, for ever) and says why.
export function child() {}

export function main() {
  rusm.trapExit(true);
  rusm.spawnLink("child", [], { stdio: false });
  const m = rusm.receive({ tag: "EXIT", timeout: 5000 });
  console.log(`child ${m.reason}: ${m.detail}`);
}

if (!rusm.isMain) {
  rusm.spawn("child");
}
