// Spawning from spawned processes: a chain of `depth` processes, each
// started by the one before (children get the app as bytecode and pass it
// on); the last answers the root with the chain's length.
export function link(root, depth) {
  if (depth === 1) {
    rusm.send(root, "done", `isMain=${rusm.isMain}, parent is root: ${rusm.parent() === root}`);
    return;
  }
  rusm.spawn("link", [root, depth - 1]);
}

export function main(depth = "5") {
  rusm.spawn(link, [rusm.self(), Number(depth)]);
  const m = rusm.receive({ tag: "done", timeout: 10000 });
  console.log(m ? `chain of ${depth} processes answered: ${m.text()}` : "no answer");
}
