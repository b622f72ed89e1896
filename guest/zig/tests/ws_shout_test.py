#!/usr/bin/env python3
"""The Zig serve example's WebSocket route, end to end:

  ws_shout_test.py RUSM APP_DIR

Serves APP_DIR/rusm.toml (build/examples/zig/serve) with `rusm serve` on a
free port, talks to /shout/{name} with a minimal RFC 6455 client (the
standard library has none) and checks every answer, then stops the server
with SIGTERM. Exits 1 naming the first answer that was wrong.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "common"))
from serve_harness import Serve, WsClient, fail  # noqa: E402


def main():
    rusm, app = sys.argv[1], sys.argv[2]
    with Serve(rusm, app) as srv:
        port = srv.port
        c = WsClient(port, "/shout/ada?ping=1", {"X-Client": "pytest"})
        op, data = c.frame()
        if (op, data) != (1, b"welcome to /shout/ada?ping=1, pytest"):
            fail(f"welcome: {op} {data!r}")
        op, data = c.frame()
        if (op, data) != (9, b"are you there"):
            fail(f"ping: {op} {data!r}")
        c.send(1, b"hello there")
        op, data = c.frame()
        if (op, data) != (1, b"ADA: HELLO THERE"):
            fail(f"text: {op} {data!r}")
        c.send(2, bytes([1, 2, 3, 250]))
        op, data = c.frame()
        if (op, data) != (2, bytes([250, 3, 2, 1])):
            fail(f"binary: {op} {data!r}")
        c.send(1, b"bye")
        op, data = c.frame()
        if op != 8 or struct.unpack("!H", data[:2])[0] != 1000 or data[2:] != b"bye":
            fail(f"close: {op} {data!r}")
        c.s.close()
        print("ok: welcome, ping, text, binary, close 1000 bye")

        # Without the ping and the header; the client closes first.
        c = WsClient(port, "/shout/bob", {})
        op, data = c.frame()
        if data != b"welcome to /shout/bob?, unknown":
            fail(f"second welcome: {data!r}")
        c.send(8, struct.pack("!H", 1000))
        op, data = c.frame()
        if op != 8:
            fail(f"close echo: {op} {data!r}")
        c.s.close()
        print("ok: a client that closes first")

        srv.stop()
        print("PASS")


if __name__ == "__main__":
    main()
