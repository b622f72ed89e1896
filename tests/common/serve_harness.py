"""What the SDKs' serving tests share (guest/*/tests/*.py): an app served by
`rusm serve` on a free port, and a minimal RFC 6455 client (Python's
standard library has none).

    from serve_harness import Serve, WsClient, fail

    with Serve(rusm, app_dir) as srv:      # copies the app, listens on 127.0.0.1:0
        c = WsClient(srv.port, "/ws/x", {"X-Client": "t"})
        c.say("hi"); c.expect("hi")
        srv.stop()                          # SIGTERM; fails unless it exits 0

`fail(msg)` prints the server's log (of the Serve running) and exits 1.
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

_log = None


def fail(msg):
    print("FAIL:", msg)
    if _log and os.path.exists(_log):
        print(open(_log).read())
    sys.exit(1)


class Serve:
    """`rusm serve` on a copy of app_dir, its listen address made 127.0.0.1:0."""

    def __init__(self, rusm, app_dir):
        global _log
        self.tmp = tempfile.mkdtemp()
        self.server = None
        shutil.copytree(app_dir, self.tmp, dirs_exist_ok=True)
        conf = os.path.join(self.tmp, "rusm.toml")
        text = re.sub(r'^listen = .*$', 'listen = "127.0.0.1:0"', open(conf).read(), flags=re.M)
        open(conf, "w").write(text)
        self.log = _log = os.path.join(self.tmp, "out.log")
        self.server = subprocess.Popen([rusm, "serve", conf], stdout=open(self.log, "w"),
                                       stderr=subprocess.STDOUT)
        self.port = None
        for _ in range(200):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(self.log).read())
            if m:
                self.port = int(m.group(1))
                break
            if self.server.poll() is not None:
                self.close()
                fail("rusm serve ended")
            time.sleep(0.05)
        if self.port is None:
            self.close()
            fail("rusm serve did not say where it listens")

    def signal_stop(self):
        self.server.send_signal(signal.SIGTERM)

    def wait_stopped(self):
        code = self.server.wait(timeout=20)
        self.server = None
        if code != 0:
            fail(f"rusm serve exited with {code} after SIGTERM")

    def stop(self):
        self.signal_stop()
        self.wait_stopped()

    def output(self):
        return open(self.log).read()

    def close(self):
        if self.server is not None:
            self.server.kill()
            self.server = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WsClient:
    """A WebSocket client to 127.0.0.1:port that fails the test on anything odd."""

    def __init__(self, port, path, headers=None, host="127.0.0.1"):
        self.name = path
        self.s = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
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
        """(opcode, payload) of the next frame."""
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
        """A close frame with `code` and (unless None) `reason`; its payload."""
        op, data = self.frame()
        got = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
        if op != 8 or got != code or (reason is not None and data[2:] != reason.encode()):
            fail(f"{self.name}: expected close {code} {reason!r}, got opcode {op} {data!r}")
        return data

    def drain_and_close(self):
        """Reads until the server ends the TCP connection, then closes."""
        try:
            while self.s.recv(64):
                pass
        except OSError:
            pass
        self.s.close()
