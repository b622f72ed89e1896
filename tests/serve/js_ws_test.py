#!/usr/bin/env python3
"""examples/serve/js_api's WebSocket route (a script), end to end:

  js_ws_test.py RUSM APP_DIR

Serves APP_DIR/rusm.toml with `rusm serve` on a free port and talks to
/shout/{name} with the minimal RFC 6455 client of tests/common: the
welcome, a text and a binary message, the handler's own close (1000 "bye"),
and a second connection the client closes first. Exits 1 naming the first
answer that was wrong.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
from serve_harness import Serve, WsClient, fail  # noqa: E402


def main():
    rusm, app = sys.argv[1], sys.argv[2]
    with Serve(rusm, app) as srv:
        c = WsClient(srv.port, "/shout/ada")
        op, data = c.frame()
        if (op, data) != (1, b"welcome, ada"):
            fail(f"welcome: {op} {data!r}")
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
        print("ok: welcome, text, binary, close 1000 bye")

        c = WsClient(srv.port, "/shout/bob")
        if c.frame() != (1, b"welcome, bob"):
            fail("second welcome")
        c.send(8, struct.pack("!H", 1000))
        op, data = c.frame()
        if op != 8:
            fail(f"the client's close was not answered: {op} {data!r}")
        c.s.close()
        print("ok: the client closes first")


if __name__ == "__main__":
    main()
