// HTTP handlers in AssemblyScript: `rusm serve rusm.toml` runs one process
// per request at the route's entry. GET /hello/{name} greets; POST /echo
// answers the body's length and the body (the process's pid shows that each
// request has its own); GET /events streams three Server-Sent Events;
// /ws/{room} is a WebSocket echo, a process per connection, that closes
// when the client says "bye".
import * as rusm from "rusm";

const TEXT = "Content-Type: text/plain\n";

export function handle(req: i32): void {
  const r = new rusm.HttpRequest(req);
  const name = r.param("name");
  if (name != null) {
    const agent = r.header("user-agent");
    const how = r.method() + " " + r.path() + ", " + (agent != null ? "with" : "without") + " a user agent";
    const pid = rusm.self().toString();
    r.respond(200, "hello " + name + " from assemblyscript process " + pid + " (" + how + ")\n", TEXT);
    return;
  }
  const body = r.body().unwrap();
  const text = String.UTF8.decodeUnsafe(body.dataStart, body.byteLength);
  r.respond(200, body.byteLength.toString() + ": " + text, TEXT);
}

// The sse route's entry: three events, 10 ms apart.
export function events(req: i32): void {
  const r = new rusm.HttpRequest(req);
  rusm.check(r.startEvents(), "startEvents");
  for (let i = 1; i <= 3; i++) {
    if (r.sendEvent("tick", i.toString()) != 0) return; // the client left
    rusm.sleep(10);
  }
}

// The ws route's entry: frames arrive as messages, in one receive loop.
export function echo(ws: i32): void {
  const c = new rusm.WsConnection(ws);
  const room = c.param("room");
  const where = (room != null ? room : "?") + " (" + c.query() + ")";
  for (;;) {
    const m = rusm.receive();
    if (m.tag == rusm.TAG_WS_TEXT) {
      const text = m.text();
      if (text == "bye") {
        c.close(1000, "bye from " + where);
      } else {
        c.sendText("echo: " + text + " in " + where);
      }
    } else if (m.tag == rusm.TAG_WS_BINARY) {
      c.sendBinary(m.data);
    } else if (m.tag == rusm.TAG_WS_CLOSE) {
      return; // the connection is gone (code rusm.wsCloseCode(m))
    }
  }
}
