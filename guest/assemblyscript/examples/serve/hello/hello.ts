// An HTTP handler in AssemblyScript: `rusm serve rusm.toml` runs one process
// per request at `handle`. GET /hello/{name} greets; POST /echo answers the
// body's length and the body; the process's pid shows that each request has
// its own.
import * as rusm from "rusm";

export function handle(req: i32): void {
  const r = new rusm.HttpRequest(req);
  const name = r.param("name");
  if (name != null) {
    const agent = r.header("user-agent");
    r.respond(
      200,
      "hello " + name + " from assemblyscript process " + rusm.self().toString() +
        " (" + r.method() + " " + r.path() + ", " + (agent != null ? "with" : "without") + " a user agent)\n",
      "Content-Type: text/plain\n",
    );
    return;
  }
  const body = r.body().unwrap();
  r.respond(200, body.byteLength.toString() + ": " + String.UTF8.decodeUnsafe(body.dataStart, body.byteLength), "Content-Type: text/plain\n");
}
