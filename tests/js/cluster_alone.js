// The cluster's calls on a node that is in no cluster (`rusm run`): node 0,
// no other nodes, global names that are this node's, NODE_DOWN at once for
// a node that is not up, and spawnOn refused.
function codeOf(call) {
  try {
    call();
    return "none";
  } catch (e) {
    return e.code || e.name;
  }
}

export function main() {
  rusm.registerGlobal("solo");
  rusm.register("solo-here");
  const found = rusm.whereisGlobal("solo") === rusm.self();
  rusm.sendGlobal("solo", "hi", "global");
  const g = rusm.receive({ tag: "hi", timeout: 1000 });
  rusm.send({ name: "solo-here", node: rusm.node() }, "hi", "named");
  const n = rusm.receive({ tag: "hi", timeout: 1000 });
  rusm.monitorNode(7);
  const down = rusm.receive({ tag: "NODE_DOWN", timeout: 1000 });
  console.log(`node=${rusm.node()} nodes=${rusm.nodes().length} name=${rusm.nodeName(7)} ` +
              `global=${found}/${g && g.text()} named=${n && n.text()} ` +
              `unregister=${rusm.unregisterGlobal("solo")}/${rusm.whereisGlobal("solo")} ` +
              `nodedown=${down && down.node}/${down && down.from} ` +
              `spawnOn=${codeOf(() => rusm.spawnOn(rusm.node(), "main", "main"))}`);
}
