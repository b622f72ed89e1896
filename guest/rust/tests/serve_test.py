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
import base64
import http.client
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

LOG = None


def fail(msg):
    print("FAIL:", msg)
    if LOG and os.path.exists(LOG):
        print(open(LOG).read())
    sys.exit(1)


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
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/a%20b?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"X-Check: yes\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            fail("ws: the server closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        fail(f"ws: no upgrade: {head!r}")

    def exact(n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                fail("ws: the connection ended mid-frame")
            data += chunk
        return data

    def frame():
        b0, b1 = exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", exact(2))[0]
        return b0 & 0x0F, exact(n)

    def send(opcode, payload):
        mask = os.urandom(4)
        s.sendall(struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask +
                  bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    first = {frame(), frame()}  # the ping and the report, in either order
    ready = [d.decode() for op, d in first if op == 1]
    if (9, b"hi") not in first or len(ready) != 1 or not re.fullmatch(r"ready \d+ checks", ready[0]):
        fail(f"ws: the first frames: {first!r}")
    send(1, b"hello")
    if frame() != (1, b"text hello"):
        fail("ws: the text echo")
    send(2, bytes([1, 2, 3]))
    if frame() != (2, bytes([3, 2, 1])):
        fail("ws: the binary echo")
    send(1, b"close")
    op, data = frame()
    if op != 8 or data != struct.pack("!H", 4000) + b"bye":
        fail(f"ws: the close: {op} {data!r}")
    send(8, data[:2])
    try:
        while s.recv(64):  # the server ends the TCP connection after the handshake
            pass
    except OSError:
        pass
    s.close()
    return ready[0]


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
        server = subprocess.Popen([rusm, "serve", conf], stdout=open(LOG, "w"), stderr=subprocess.STDOUT)
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

        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)
        server = None
        if code != 0:
            fail(f"rusm serve exited with {code} after SIGTERM")
        if "FAIL" in open(LOG).read():
            fail("a handler logged a failure")
        print("PASS")
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
