#!/usr/bin/env python3
"""The Rust SDK's serving wrappers against the host, error paths included:

  serve_test.py RUSM APP_DIR

APP_DIR is build/guest/rust/tests/serve (t_rust_serve.wasm and the
rusm.toml of guest/rust/tests/serve). Serves it on a free port and checks
what each handler answers: /check (the request's accessors, the response's
calls out of order: "ok N checks"), /limit (a small body read whole; a
chunked one past body_bytes gives ETOOLARGE through std::io::Read), /events
(SSE: a multi-line event, a bad name, "ok N checks"), /ws/{id} (the
connection's accessors and bad arguments, echoes, a close the handler
starts: 4000 "bye"). Then SIGTERM; no handler may have logged a failure.
"""
import http.client
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "common"))
from serve_harness import Serve, WsClient, fail  # noqa: E402


def request(port, method, path, body=None, headers=None, chunked=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if chunked:
        c.request(method, path, body=iter([body[i:i + 4096] for i in range(0, len(body), 4096)]),
                  headers=headers or {}, encode_chunked=True)
    else:
        c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data.decode("utf-8", "replace")


def ws_frames(port):
    c = WsClient(port, "/ws/a%20b?q=1", {"X-Check": "yes"})
    first = {c.frame(), c.frame()}  # the ping and the report, in either order
    ready = [d.decode() for op, d in first if op == 1]
    if (9, b"hi") not in first or len(ready) != 1 or not re.fullmatch(r"ready \d+ checks", ready[0]):
        fail(f"ws: the first frames: {first!r}")
    c.send(1, b"hello")
    if c.frame() != (1, b"text hello"):
        fail("ws: the text echo")
    c.send(2, bytes([1, 2, 3]))
    if c.frame() != (2, bytes([3, 2, 1])):
        fail("ws: the binary echo")
    c.send(1, b"close")
    data = c.expect_close(4000, "bye")
    c.send(8, data[:2])
    c.drain_and_close()  # the server ends the TCP connection after the handshake
    return ready[0]


def main():
    rusm, app = sys.argv[1], sys.argv[2]
    with Serve(rusm, app) as srv:
        port = srv.port
        status, headers, body = request(port, "GET", "/check?a=1&b=two", headers={"X-Check": "yes"})
        if status != 200 or headers.get("Content-Length") != "32" or \
                not re.fullmatch(r"ok \d+ checks *\n", body):
            fail(f"/check: {status} {headers} {body!r}")
        print(f"ok: /check: {body.strip()}")

        status, _, body = request(port, "POST", "/limit", body=b"x" * 100)
        if (status, body) != (200, "read 100 bytes\n"):
            fail(f"/limit, 100 bytes: {status} {body!r}")
        status, _, body = request(port, "POST", "/limit", body=b"x" * 40000, chunked=True)
        if status != 413 or body != "read: Some(ETOOLARGE (-12)), Other\n":
            fail(f"/limit, 40000 bytes chunked: {status} {body!r}")
        print("ok: /limit: a body read whole; ETOOLARGE through std::io::Read")

        status, headers, body = request(port, "GET", "/events")
        want = ["event: lines\ndata: one\ndata: two\ndata: three\n\n", "\ndata: no name\n\n"]
        done = re.search(r"event: done\ndata: (.*)\n\n", body)
        if status != 200 or headers.get("X-Events") != "1" or any(w not in body for w in want) \
                or not done or not re.fullmatch(r"ok \d+ checks", done.group(1)):
            fail(f"/events: {status} {headers} {body!r}")
        print(f"ok: /events: {done.group(1)}")

        print(f"ok: /ws: {ws_frames(port)}, echoes, close 4000 bye")
        time.sleep(0.3)  # the ws process checks what follows its close, then ends

        srv.stop()
        if "FAIL" in srv.output():
            fail("a handler logged a failure")
        print("PASS")


if __name__ == "__main__":
    main()
