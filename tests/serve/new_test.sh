#!/usr/bin/env bash
# `rusm new` end to end:
#   new_test.sh RUSM all|http|cgi|ws|sse
#     makes an app with --kind KIND in a temporary directory, checks which
#     files it made, builds it with its own build.sh (handlers compiled with
#     -Wall -Wextra -Werror), serves it with `rusm serve` on a free port and
#     checks every route's answer over curl (ws: a Python client that does the
#     handshake and echoes a text and a 10 KB binary message), then SIGTERM.
#   new_test.sh RUSM refuses
#     a non-empty directory, a file and a bad name are refused with the right
#     exit status and a message, and nothing is written.
set -euo pipefail
rusm=$(realpath "$1")
mode=$2
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

die() {
  echo "FAIL: $*"
  [ -f "$tmp/serve.log" ] && { echo "--- rusm serve output:"; cat "$tmp/serve.log"; }
  exit 1
}

# expect_fail CODE TEXT CMD...: CMD exits with CODE and says TEXT on stderr.
expect_fail() {
  local want=$1 text=$2 code=0
  shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" || code=$?
  [ "$code" -eq "$want" ] || die "$* exited $code, expected $want (stderr: $(cat "$tmp/err"))"
  grep -qF -- "$text" "$tmp/err" || die "$*: stderr lacks '$text': $(cat "$tmp/err")"
  echo "ok: $* -> exit $code: $(head -1 "$tmp/err")"
}

if [ "$mode" = refuses ]; then
  cd "$tmp"
  mkdir full && echo keep > full/mine.txt
  expect_fail 1 "already exists and is not empty" "$rusm" new full
  [ "$(ls -A full)" = mine.txt ] || die "rusm new wrote into a non-empty directory: $(ls -A full)"
  [ "$(cat full/mine.txt)" = keep ] || die "rusm new changed an existing file"
  echo x > afile
  expect_fail 1 "not a directory" "$rusm" new afile
  expect_fail 2 "must start with a letter or digit" "$rusm" new "bad name"
  expect_fail 2 "must start with a letter or digit" "$rusm" new -- -dash
  expect_fail 2 "must start with a letter or digit" "$rusm" new ..
  [ ! -e "bad name" ] || die "a refused name was created"
  expect_fail 2 "kind" "$rusm" new ok --kind tcp
  [ ! -e ok ] || die "a refused --kind still made the app"
  # An empty directory is fine.
  mkdir empty
  "$rusm" new empty --kind cgi > /dev/null || die "rusm new into an empty directory failed"
  [ -f empty/cgi.c ] || die "rusm new into an empty directory made no cgi.c"
  echo "ok: an empty directory is filled"
  exit 0
fi

kind=$mode
app="$tmp/apps/my-app_1"  # a path: its parents are made, its last component is the name
"$rusm" new "$app" --kind "$kind" > "$tmp/new.out" || die "rusm new failed: $(cat "$tmp/new.out")"
cat "$tmp/new.out"
grep -q "cd .*my-app_1 && ./build.sh" "$tmp/new.out" || die "rusm new does not print the next commands"
grep -q "serve$" "$tmp/new.out" || die "rusm new does not print the serve command"

has() { [ "$kind" = all ] || [ "$kind" = "$1" ]; }
expect_files=(rusm.toml build.sh README.md .gitignore)
absent_files=()
for k in http cgi ws sse; do
  if has $k; then expect_files+=("$k.c"); else absent_files+=("$k.c"); fi
done
if [ "$kind" = all ]; then expect_files+=(public/index.html); else absent_files+=(public); fi
if [ "$kind" = cgi ]; then absent_files+=(rusm.h); else expect_files+=(rusm.h); fi
for f in "${expect_files[@]}"; do [ -f "$app/$f" ] || die "missing $f"; done
for f in "${absent_files[@]}"; do [ ! -e "$app/$f" ] || die "$f made for --kind $kind"; done
[ -x "$app/build.sh" ] || die "build.sh is not executable"
grep -q "my-app_1" "$app/README.md" || die "README.md does not name the app"
! grep -rq -e '{{' -e '^@if' -e '^@end' --exclude=rusm.h "$app" || die "template markers left in the app"
if [ -f "$app/rusm.h" ]; then
  cmp -s "$app/rusm.h" "$(dirname "$0")/../../guest/c/rusm.h" ||
    die "the app's rusm.h differs from guest/c/rusm.h"
fi
echo "ok: files for --kind $kind"

# Build with the app's own build.sh, warnings as errors.
printf '#!/bin/sh\nexec clang-19 -Wall -Wextra -Werror "$@"\n' > "$tmp/cc"
chmod +x "$tmp/cc"
(cd "$tmp" && CC="$tmp/cc" "$app/build.sh") > "$tmp/build.log" 2>&1 ||
  die "build.sh failed: $(cat "$tmp/build.log")"
for k in http cgi ws sse; do
  if has $k; then [ -f "$app/$k.wasm" ] || die "build.sh made no $k.wasm"; fi
done
echo "ok: build.sh"

# Serve on a free port (the generated rusm.toml listens on 127.0.0.1:8080).
grep -q '^listen = \["127.0.0.1:8080"\]$' "$app/rusm.toml" || die "rusm.toml does not listen on 8080"
sed -i 's|^listen = .*|listen = "127.0.0.1:0"|' "$app/rusm.toml"
(cd "$app" && exec "$rusm" serve) > "$tmp/serve.log" 2>&1 &
pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$tmp/serve.log" | head -1)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || die "rusm serve exited"
  sleep 0.05
done
[ -n "$url" ] || die "rusm serve did not say where it listens"

# expect 'curl args' TEXT: the response contains TEXT.
expect() {
  local - got
  set -f  # no globbing of the URLs' '?'

  # shellcheck disable=SC2086
  got=$(curl -sS --max-time 10 $1 2>&1) || true
  [[ "$got" == *"$2"* ]] || die "curl $1: expected '$2', got: $got"
  echo "ok: curl $1"
}

if has http; then
  expect "$url/hello/ada" "hello, ada! (GET, 0 body bytes)"
  expect "-d 12345 $url/hello/grace%20h" "hello, grace h! (POST, 5 body bytes)"
fi
if has cgi; then
  expect "$url/cgi?x=1&name=ada" "hello, ada, from a CGI process (GET, 0 body bytes)"
  expect "-d abc $url/cgi" "hello, world, from a CGI process (POST, 3 body bytes)"
fi
if has sse; then
  expect "-N -i $url/events?n=2" "Content-Type: text/event-stream"
  expect "-N $url/events?n=2" $'event: tick\ndata: {"tick":0}\n\nevent: tick\ndata: {"tick":1}'
fi
if has ws; then
  port=${url##*:}
  python3 - "$port" <<'EOF' || die "WebSocket echo"
import base64, os, socket, struct, sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit(f"connection closed during the handshake: {head!r}")
    head += chunk
head, rest = head.split(b"\r\n\r\n", 1)
if not head.startswith(b"HTTP/1.1 101"):
    sys.exit(f"no 101: {head!r}")

buf = bytearray(rest)
def read_exact(n):
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed while reading a frame")
        buf.extend(chunk)
    out = bytes(buf[:n])
    del buf[:n]
    return out

def send(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

def recv():
    b0, b1 = read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(8))[0]
    return b0 & 0x0F, read_exact(n)

send(1, "hello, rusm ✓".encode())
op, data = recv()
if (op, data) != (1, "hello, rusm ✓".encode()):
    sys.exit(f"text echo: got opcode {op} {data[:40]!r}")
big = bytes(range(256)) * 40  # past the handler's 4 KB buffer: read with message_read
send(2, big)
op, data = recv()
if op != 2 or data != big:
    sys.exit(f"binary echo: got opcode {op}, {len(data)} bytes")
send(8, struct.pack("!H", 1000))
op, data = recv()
if op != 8 or struct.unpack("!H", data[:2])[0] != 1000:
    sys.exit(f"close: got opcode {op} {data!r}")
print("ok: ws echo (text, 10 KB binary, close 1000)")
EOF
fi
if [ "$kind" = all ]; then
  expect "-i $url/" "Content-Type: text/html"
  expect "$url/" "<title>my-app_1</title>"
  expect "$url/index.html" 'new EventSource("/events")'
else
  expect "-i $url/" "404"
fi

kill -TERM $pid
code=0
wait $pid || code=$?
pid=
[ $code -eq 0 ] || die "rusm serve exited with $code after SIGTERM"
grep -q "stopped" "$tmp/serve.log" || die "no clean stop"
echo "ok: stopped"
