#!/usr/bin/env python3
"""The Zig serve example's WebSocket route, end to end:

  ws_shout_test.py RUSM APP_DIR

Serves APP_DIR/rusm.toml (build/examples/zig/serve) with `rusm serve` on a
free port, talks to /shout/{name} with a minimal RFC 6455 client (the
standard library has none) and checks every answer, then stops the server
with SIGTERM. Exits 1 naming the first answer that was wrong.
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


def fail(msg, log=None):
    print("FAIL:", msg)
    if log:
        print(open(log).read())
    sys.exit(1)


class Client:
    def __init__(self, host, port, path, headers):
        self.s = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(1)
            if not chunk:
                fail("the server closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            fail(f"no upgrade: {head!r}")

    def exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.s.recv(n - len(data))
            if not chunk:
                fail("the connection ended mid-frame")
            data += chunk
        return data

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        else:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def frame(self):
        b0, b1 = self.exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.exact(8))[0]
        return b0 & 0x0F, self.exact(n)


def main():
    rusm, app = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp()
    server = None
    try:
        shutil.copytree(app, tmp, dirs_exist_ok=True)
        conf = os.path.join(tmp, "rusm.toml")
        text = re.sub(r'^listen = .*$', 'listen = "127.0.0.1:0"', open(conf).read(), flags=re.M)
        open(conf, "w").write(text)
        log = os.path.join(tmp, "out.log")
        server = subprocess.Popen([rusm, "serve", conf], stdout=open(log, "w"),
                                  stderr=subprocess.STDOUT)
        port = None
        for _ in range(200):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log).read())
            if m:
                port = int(m.group(1))
                break
            if server.poll() is not None:
                fail("rusm serve ended", log)
            time.sleep(0.05)
        if port is None:
            fail("rusm serve did not say where it listens", log)

        c = Client("127.0.0.1", port, "/shout/ada?ping=1", {"X-Client": "pytest"})
        op, data = c.frame()
        if (op, data) != (1, b"welcome to /shout/ada?ping=1, pytest"):
            fail(f"welcome: {op} {data!r}", log)
        op, data = c.frame()
        if (op, data) != (9, b"are you there"):
            fail(f"ping: {op} {data!r}", log)
        c.send(1, b"hello there")
        op, data = c.frame()
        if (op, data) != (1, b"ADA: HELLO THERE"):
            fail(f"text: {op} {data!r}", log)
        c.send(2, bytes([1, 2, 3, 250]))
        op, data = c.frame()
        if (op, data) != (2, bytes([250, 3, 2, 1])):
            fail(f"binary: {op} {data!r}", log)
        c.send(1, b"bye")
        op, data = c.frame()
        if op != 8 or struct.unpack("!H", data[:2])[0] != 1000 or data[2:] != b"bye":
            fail(f"close: {op} {data!r}", log)
        c.s.close()
        print("ok: welcome, ping, text, binary, close 1000 bye")

        # Without the ping and the header; the client closes first.
        c = Client("127.0.0.1", port, "/shout/bob", {})
        op, data = c.frame()
        if data != b"welcome to /shout/bob?, unknown":
            fail(f"second welcome: {data!r}", log)
        c.send(8, struct.pack("!H", 1000))
        op, data = c.frame()
        if op != 8:
            fail(f"close echo: {op} {data!r}", log)
        c.s.close()
        print("ok: a client that closes first")

        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)
        server = None
        if code != 0:
            fail(f"rusm serve exited with {code} after SIGTERM", log)
        print("PASS")
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
