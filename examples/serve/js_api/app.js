// A JSON API in JavaScript (docs/js.md, "Serving"):
//   rusm serve examples/serve/js_api/rusm.toml
// Each request runs in a fresh JS process started from its route's
// template: this file's top level ran once, when the server started, and
// every request gets its own copy of what it built.
const users = { 1: "ada", 2: "grace" };
let requests = 0;

// GET /users/{id}: a route parameter; an object with `status` or `body` is a
// response, any other value is JSON.
export function user(req) {
  const id = req.param("id");
  if (!(id in users)) return { status: 404, body: { error: `no user ${id}` } };
  return { id: Number(id), name: users[id] };
}

// POST /echo: the body, headers, and a status of our choosing.
export function echo(req) {
  const body = req.text();
  return {
    status: 201,
    headers: { "X-Length": String(body.length) },
    body: { length: body.length, body, method: req.method, type: req.headers["content-type"] },
  };
}

// GET /hello?name: a string is text/plain.
export function hello(req) {
  return `hello from JavaScript, ${req.query || "anonymous"}`;
}

// An async handler: its promise's value is the response.
export async function later() {
  await null;
  return "settled";
}

// A handler that throws: the client gets 500, the server logs the line.
export function fails() {
  throw new TypeError("broken on purpose");
}

// Always 1: each request's process has its own copy of the module's state.
export function count() {
  requests += 1;
  return String(requests);
}

// GET /numbers?n: a streamed body. A generator (or an async one) as the
// body sends its chunks as they are made, chunked; the handler's second
// argument, `res`, does the same by hand (res.start, res.write, res.end).
export function numbers(req) {
  const n = Number(/(?:^|&)n=(\d+)/.exec(req.query)?.[1] ?? 3);
  return {
    headers: { "Content-Type": "text/plain; charset=utf-8" },
    body: (function* () {
      for (let i = 1; i <= n; i++) yield `${i},`;
    })(),
  };
}

// GET /ticks?n: Server-Sent Events (an sse route): `events.send` streams one
// event (a string, or JSON) and returns false once the client has gone.
export function ticks(req, events) {
  const n = Number(/(?:^|&)n=(\d+)/.exec(req.query)?.[1] ?? 3);
  for (let i = 0; i < n; i++) {
    if (!events.send({ tick: i }, "tick")) return;
  }
}

// WebSocket /shout/{name} (a ws route): frames arrive in the mailbox, so one
// rusm.receive takes them ("WS_TEXT", "WS_BINARY", then one "WS_CLOSE")
// with any other message; text comes back shouted, bytes reversed, and
// "bye" ends the conversation with a close frame.
export function shout(ws) {
  ws.send(`welcome, ${ws.param("name")}`);
  for (;;) {
    const m = rusm.receive();
    if (m.tag === "WS_CLOSE") return;
    if (m.tag === "WS_BINARY") {
      ws.send(new Uint8Array(m.data).reverse());
    } else if (m.tag === "WS_TEXT") {
      const text = m.text();
      if (text === "bye") return ws.close(1000, "bye");
      ws.send(`${ws.param("name").toUpperCase()}: ${text.toUpperCase()}`);
    }
  }
}
