// JavaScript processes on two nodes of a cluster (tests/cluster/js_test.cc):
// the main process of node b ("b.js") takes a global and a local name and
// answers pings; the main process of node a ("a.js") spawns a C guest on b
// with rusm.spawnOn, asks b's process by both names, and watches
// b with rusm.monitorNode until the test stops b. Each step is reported to
// the process registered here as "reporter" (the test's probe), tag 1.
const report = (text) => rusm.send("reporter", 1, text);
const nodeOf = (pid) => Math.floor(pid / 2 ** 48);

// The error code a call throws, or "none".
function codeOf(call) {
  try {
    call();
    return "none";
  } catch (e) {
    return e.code || `${e.name}: ${e.message}`;
  }
}

function serveOnB() {
  rusm.registerGlobal("js-b");
  rusm.register("js-b-here");
  report(`registered on=${rusm.node()}`);
  for (;;) {
    const m = rusm.receive();
    if (m.tag === "ping") rusm.send(m.from, "pong", `${m.text()} from ${rusm.node()}`);
  }
}

function clientOnA() {
  const b = rusm.nodes()[0];
  report(`a=${rusm.node()} nodes=${rusm.nodes().join(",")} name=${rusm.nodeName(b)}`);

  // spawnOn: t_node's remote_child reports where it runs to its argument.
  const child = rusm.spawnOn(b, "t_node", "remote_child", [rusm.self()]);
  const answer = rusm.receive({ tag: 1, timeout: 10000 });
  report(`spawnOn child_node=${nodeOf(child)} reply=${answer && answer.text()} ` +
         `from_child=${answer !== null && answer.from === child}`);
  // Monitor (and link, trapping exits) atomic with the spawn: a child that
  // crashes at once still gives its DOWN and EXIT with the real reason.
  rusm.trapExit(true);
  const { pid, ref } = rusm.spawnOn(b, "t_node", "remote_crasher", [],
                                    { monitor: true, link: true, timeout: 10000 });
  const down = rusm.receive({ tag: "DOWN", timeout: 10000 });
  const exit = rusm.receive({ tag: "EXIT", timeout: 10000 });
  report(`monitored down=${down.ref === ref && down.from === pid}/${down.reason}/${down.detail} ` +
         `exit=${exit.from === pid}/${exit.reason}`);
  report(`errors nofn=${codeOf(() => rusm.spawnOn(b, "t_node", "nope"))} ` +
         `nomod=${codeOf(() => rusm.spawnOn(b, "nope", "remote_child", [1]))} ` +
         `noconn=${codeOf(() => rusm.spawnOn(30, "t_node", "remote_child", [1]))} ` +
         `inexact=${codeOf(() => rusm.spawnOn(40, "t_node", "remote_child", [1]))} ` +
         `badnode=${codeOf(() => rusm.monitorNode(70000))} ` +
         `args=${codeOf(() => rusm.spawnOn(b, "t_node", "remote_child", ["x"]))} ` +
         `nameless=${codeOf(() => rusm.spawnOn(b, "", "remote_child"))}`);

  // b's global name, once it reached this node; a message by that name.
  let server = null;
  for (let i = 0; i < 500 && (server = rusm.whereisGlobal("js-b")) === null; i++) rusm.sleep(10);
  rusm.sendGlobal("js-b", "ping", "hi");
  const pong = rusm.receive({ tag: "pong", timeout: 10000 });
  report(`global server_node=${server === null ? null : nodeOf(server)} ` +
         `pong=${pong && pong.text()} same=${pong !== null && pong.from === server}`);
  // b's local name, on b.
  rusm.send({ name: "js-b-here", node: b }, "ping", "named");
  const named = rusm.receive({ tag: "pong", timeout: 10000 });
  report(`named pong=${named && named.text()} same=${named !== null && named.from === server} ` +
         `missing=${codeOf(() => rusm.send({ name: "nobody", node: rusm.node() }, "ping"))} ` +
         `noconn=${codeOf(() => rusm.send({ name: "js-b-here", node: 30 }, "ping"))} ` +
         `bad=${codeOf(() => rusm.send({ node: b }, "ping"))}`);
  rusm.registerGlobal("js-a");
  report(`names taken=${codeOf(() => rusm.registerGlobal("js-b"))} ` +
         `missing=${rusm.whereisGlobal("nobody")} ` +
         `send_missing=${codeOf(() => rusm.sendGlobal("nobody", "ping"))} ` +
         `unregister=${rusm.unregisterGlobal("js-a")}/${rusm.unregisterGlobal("js-a")} ` +
         `gone=${rusm.whereisGlobal("js-a")}`);

  // b's leaving, as a NODE_DOWN message.
  rusm.monitorNode(b);
  report("watching");
  const m = rusm.receive({ tag: "NODE_DOWN", timeout: 20000 });
  report(m === null ? "no NODE_DOWN" : `nodedown tag=${m.tag} node=${m.node} from=${m.from}`);
}

export function main() {
  if (rusm.script === "b.js") serveOnB();
  else clientOnA();
}
