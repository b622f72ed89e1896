// HTTP handlers in AssemblyScript: `rusm serve rusm.toml` runs one process
// per request at the route's entry. GET /hello/{name} greets (the process's
// pid shows that each request has its own); POST /echo streams back the
// body's length, the body and what it knows of the request; GET /events streams three Server-Sent Events;
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
  // /echo: a streamed (chunked) answer, written in three pieces.
  const body = r.body().unwrap();
  const text = String.UTF8.decodeUnsafe(body.dataStart, body.byteLength);
  rusm.check(r.start(200, TEXT), "start");
  r.write(body.byteLength.toString() + ": " + text + "\n");
  r.write("target " + r.target() + ", query " + r.query() + "\n");
  const local = r.peer().startsWith("127.0.0.1:");
  const headers = r.headers().split("\n").length - 1;
  r.write("from " + (local ? "localhost" : "elsewhere") + ", " + headers.toString() + " headers\n");
  rusm.check(r.finish(), "finish");
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
      } else if (text == "ping") {
        c.sendText("ping: " + rusm.errorName(c.ping("p")) + ", path " + c.path());
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
