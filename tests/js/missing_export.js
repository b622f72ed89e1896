// Spawning a name that main's namespace lacks fails in the parent; during
// top-level evaluation the namespace is not known yet, so the child reports it.
rusm.trapExit(true);
if (rusm.isMain) {
  rusm.spawnLink("nope", [], { stdio: false });
  const m = rusm.receive({ tag: "EXIT", timeout: 5000 });
  console.log(`child ${m.reason}: ${m.detail}`);
}
