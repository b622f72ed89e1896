#!/usr/bin/env python3
"""The Rust SDK's fetch (rusm::fetch) against a real server:

  fetch_test.py RUSM T_RUST_WASM [FETCH_EXAMPLE_WASM]

Runs a small HTTP/1.1 server on a free port of 127.0.0.1 (the routes the
conformance guest's `fetch_all` asks for: /hello, /echo, /big?n=N,
/chunked, /status/404, /redirect, /slow), then
`rusm run T_RUST_WASM --allow spawn --allow-net 127.0.0.1:PORT -- fetch PORT`,
which fetches each and checks status, headers and body through the crate.
Passes when the guest prints "t_rust: ok (N checks)" and exits 0, and the
server saw the requests the guest made (so the checks did not pass without
a network). With FETCH_EXAMPLE_WASM (build/examples/rust/fetch.wasm), also
runs the example against the same server and checks what it prints and its
exit status.
"""
import http.server
import re
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

SEEN = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        SEEN.append(("GET", self.path))
        url = urlparse(self.path)
        if url.path == "/hello":
            self.answer(200, b"hello from python", [("Content-Type", "text/plain"), ("X-Test", "yes")])
        elif url.path == "/big":
            n = int(parse_qs(url.query)["n"][0])
            self.answer(200, bytes(i % 251 for i in range(n)))
        elif url.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one ", b"two ", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif url.path == "/status/404":
            self.answer(404, b"no such thing")
        elif url.path == "/redirect":
            self.answer(302, b"", [("Location", "/hello")])
        elif url.path == "/slow":
            time.sleep(2)
            self.answer(200, b"late")
        else:
            self.answer(400, b"unknown route")

    def do_POST(self):
        SEEN.append(("POST", self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer(201, body, [("X-Method", self.command), ("X-Path", self.path),
                                ("X-Req", self.headers.get("X-Req", "")),
                                ("X-Agent", self.headers.get("User-Agent", ""))])

    do_PUT = do_POST


def example(rusm, wasm, port):
    """The fetch example: (args, grant?, exit code, texts its output must hold)."""
    url = f"http://127.0.0.1:{port}"
    cases = [
        ([f"{url}/hello", "-i"], True, 0, ["HTTP/1.1 200\r\n", "X-Test: yes\r\n", "\r\n\r\nhello from python"]),
        ([f"{url}/echo", "-d", "posted", "-H", "X-Req: r1", "-i"], True, 0, ["X-Req: r1\r\n", "posted"]),
        ([f"{url}/echo", "-X", "PUT", "-d", "x", "-i"], True, 0, ["X-Method: PUT\r\n", "X-Agent: rusm\r\n"]),
        ([f"{url}/big?n=300000"], True, 0, []),
        ([f"{url}/status/404"], True, 22, ["no such thing"]),
        ([f"{url}/slow", "-m", "0.2"], True, 1, ["timed out"]),
        ([f"{url}/hello"], False, 1, ["not allowed (grant the host with --allow-net HOST:PORT)"]),
    ]
    for args, grant, code, texts in cases:
        allow = ["--allow-net", f"127.0.0.1:{port}"] if grant else []
        got = subprocess.run([rusm, "run", wasm] + allow + ["--"] + args, capture_output=True, timeout=60)
        out = got.stdout.decode("latin-1") + got.stderr.decode("latin-1")
        if got.returncode != code or any(t not in out for t in texts):
            print(f"FAIL: fetch.wasm {args}: exit {got.returncode} (expected {code}), output:\n{out}")
            sys.exit(1)
        if args[0].endswith("/big?n=300000") and got.stdout != bytes(i % 251 for i in range(300000)):
            print(f"FAIL: fetch.wasm {args}: the body differs ({len(got.stdout)} bytes)")
            sys.exit(1)
        print(f"ok: fetch.wasm {' '.join(args)}")


def main():
    rusm, guest = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run = subprocess.run([rusm, "run", guest, "--allow", "spawn", "--allow-net", f"127.0.0.1:{port}",
                          "--", "fetch", str(port)], capture_output=True, text=True, timeout=60)
    if len(sys.argv) > 3:
        example(rusm, sys.argv[3], port)
    server.shutdown()
    out = run.stdout + run.stderr
    print(out, end="")
    if run.returncode != 0 or not re.search(r"^t_rust: ok \(\d+ checks\)$", run.stdout, re.M):
        print(f"FAIL: rusm run exited with {run.returncode}")
        sys.exit(1)
    wanted = [("GET", "/hello"), ("POST", "/echo?q=1"), ("GET", "/big?n=600000"), ("GET", "/chunked"),
              ("GET", "/status/404"), ("GET", "/redirect"), ("GET", "/slow")]
    missing = [w for w in wanted if w not in SEEN]
    if missing:
        print(f"FAIL: the server never saw {missing}")
        sys.exit(1)
    print(f"PASS ({len(SEEN)} requests served)")


if __name__ == "__main__":
    main()
