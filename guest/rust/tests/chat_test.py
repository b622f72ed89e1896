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
import base64
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

LOG = None


def fail(msg):
    print("FAIL:", msg)
    if LOG and os.path.exists(LOG):
        print(open(LOG).read())
    sys.exit(1)


class Client:
    def __init__(self, port, path):
        self.name = path
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(1)
            if not chunk:
                fail(f"{path}: the server closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            fail(f"{path}: no upgrade: {head!r}")

    def exact(self, n):
        data = b""
        while len(data) < n:
            try:
                chunk = self.s.recv(n - len(data))
            except socket.timeout:
                fail(f"{self.name}: no frame within 10 s")
            if not chunk:
                fail(f"{self.name}: the connection ended mid-frame")
            data += chunk
        return data

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n) if n < 126 else \
            struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def say(self, text):
        self.send(1, text.encode())

    def frame(self):
        b0, b1 = self.exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.exact(8))[0]
        return b0 & 0x0F, self.exact(n)

    def expect(self, text):
        op, data = self.frame()
        if (op, data) != (1, text.encode()):
            fail(f"{self.name}: expected text {text!r}, got opcode {op} {data!r}")

    def expect_close(self, code, reason):
        op, data = self.frame()
        got = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
        if op != 8 or got != code or (reason is not None and data[2:] != reason.encode()):
            fail(f"{self.name}: expected close {code} {reason!r}, got opcode {op} {data!r}")


def main():
    global LOG
    rusm, app = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp()
    server = None
    try:
        shutil.copytree(app, tmp, dirs_exist_ok=True)
        conf = os.path.join(tmp, "rusm.toml")
        text = re.sub(r'^listen = .*$', 'listen = "127.0.0.1:0"', open(conf).read(), flags=re.M)
        open(conf, "w").write(text)
        LOG = os.path.join(tmp, "out.log")
        server = subprocess.Popen([rusm, "serve", conf], stdout=open(LOG, "w"),
                                  stderr=subprocess.STDOUT)
        port = None
        for _ in range(200):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(LOG).read())
            if m:
                port = int(m.group(1))
                break
            if server.poll() is not None:
                fail("rusm serve ended")
            time.sleep(0.05)
        if port is None:
            fail("rusm serve did not say where it listens")

        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
        if b"<title>rusm chat (Rust)</title>" not in page:
            fail(f"the page: {page[:200]!r}")
        print("ok: the page")

        alice = Client(port, "/chat/lobby?name=alice")
        alice.expect("welcome alice to lobby (/chat/lobby)")
        alice.expect("* alice joined")
        bob = Client(port, "/chat/lobby?name=bob&x=1")
        bob.expect("welcome bob to lobby (/chat/lobby)")
        bob.expect("* bob joined")
        alice.expect("* bob joined")
        carol = Client(port, "/chat/attic?name=car%20ol")  # the name is cleaned to "car20ol"
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

        server.send_signal(signal.SIGTERM)
        carol.expect_close(1001, None)  # the server's reason
        carol.send(8, struct.pack("!H", 1001))  # completes the close handshake
        carol.s.close()
        code = server.wait(timeout=20)
        server = None
        if code != 0:
            fail(f"rusm serve exited with {code} after SIGTERM")
        print("ok: SIGTERM closes the last connection with 1001")
        print("PASS")
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
