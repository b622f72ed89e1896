#!/usr/bin/env python3
"""The Rust chat example (guest/rust/examples/serve/chat) under `rusm serve`:

  chat_test.py RUSM APP_DIR

Serves APP_DIR/rusm.toml (build/examples/rust/serve/chat) on a free port,
connects three clients with a minimal RFC 6455 client (the standard library
has none): alice and bob in room "lobby", carol in "attic". Checks the
welcomes and join notices, that a line reaches everyone in its room and
nobody in another, the answer to a binary message, that a client's close is
announced as "left", that "/quit" makes the handler close with 1000 and its
reason, that the static route serves the page, and that SIGTERM closes the last connection with 1001 and stops the
server cleanly. Exits 1 naming the first answer that was wrong.
"""
import os
import struct
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "common"))
from serve_harness import Serve, WsClient, fail  # noqa: E402


def main():
    rusm, app = sys.argv[1], sys.argv[2]
    with Serve(rusm, app) as srv:
        port = srv.port
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
        if b"<title>rusm chat (Rust)</title>" not in page:
            fail(f"the page: {page[:200]!r}")
        print("ok: the page")

        alice = WsClient(port, "/chat/lobby?name=alice")
        alice.expect("welcome alice to lobby (/chat/lobby)")
        alice.expect("* alice joined")
        bob = WsClient(port, "/chat/lobby?name=bob&x=1")
        bob.expect("welcome bob to lobby (/chat/lobby)")
        bob.expect("* bob joined")
        alice.expect("* bob joined")
        carol = WsClient(port, "/chat/attic?name=car%20ol")  # the name is cleaned to "car20ol"
        carol.expect("welcome car20ol to attic (/chat/attic)")
        carol.expect("* car20ol joined")
        print("ok: welcomes and joins")

        alice.say("hello bob")
        alice.expect("alice: hello bob")
        bob.expect("alice: hello bob")
        carol.say("anyone here?")
        carol.expect("car20ol: anyone here?")
        bob.say("hi alice \u00e9")
        # carol's line was published before bob's: had it leaked into the
        # lobby, it would come first.
        alice.expect("bob: hi alice \u00e9")
        bob.expect("bob: hi alice \u00e9")
        print("ok: lines reach their room only")

        bob.send(2, bytes([1, 2, 3]))
        bob.expect("* text only, please")
        print("ok: binary refused")

        bob.send(8, struct.pack("!H", 1000))
        bob.expect_close(1000, "")
        bob.s.close()
        alice.expect("* bob left")
        print("ok: a client that closes is announced")

        alice.say("/quit")
        alice.expect_close(1000, "goodbye alice")
        alice.s.close()
        print("ok: /quit closes with 1000 and a reason")

        srv.signal_stop()
        carol.expect_close(1001, None)  # the server's reason
        carol.send(8, struct.pack("!H", 1001))  # completes the close handshake
        carol.s.close()
        srv.wait_stopped()
        print("ok: SIGTERM closes the last connection with 1001")
        print("PASS")


if __name__ == "__main__":
    main()
