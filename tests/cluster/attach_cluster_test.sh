#!/usr/bin/env bash
# `rusm attach` against a `rusm serve` node, end to end:
#   attach_cluster_test.sh RUSM GUESTS_WASM
# makes a CA and certificates (n1, operator) with `rusm cluster`, serves a
# WebSocket echo route (GUESTS_WASM's `echo`, one process per connection) on
# a node with a [cluster] table, and checks: -c nodes names the node; with a
# WebSocket open, -c ps lists its process and -c 'kill PID' ends it (the
# socket closes, ps no longer lists it); stats, whereis's error (exit 1);
# lines on a pipe answered in order; the refusals (exit 2): no certificate
# files, a certificate of another CA, a node with attach = false, a bad
# address; a bad command exits 1.
set -euo pipefail
rusm=$(realpath "$1")
guests=$(realpath "$2")
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

die() {
  echo "FAIL: $*"
  for f in n1.log n2.log ws.log out.txt err.txt; do
    [ -f $f ] && { echo "--- $f:"; cat $f; }
  done
  exit 1
}

wait_for() {
  for _ in $(seq 150); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$1 never said '$2'"
}

# run CODE CMD...: CMD exits with CODE; its output in out.txt, err.txt.
run() {
  local want=$1 code=0
  shift
  timeout 20 "$@" > out.txt 2> err.txt || code=$?
  [ "$code" -eq "$want" ] || die "$* exited $code, expected $want"
}

"$rusm" cluster ca > /dev/null
for n in n1 n2 operator; do "$rusm" cluster cert $n > /dev/null; done

# conf NAME ATTACH: NAME.toml, a WebSocket echo route and a cluster node.
conf() {
  cat > "$1.toml" <<EOT
listen = ["127.0.0.1:0"]

[cluster]
name = "$1"
listen = "127.0.0.1:0"
tick = "200ms"
attach = $2

[[route]]
path = "/ws"
kind = "ws"
module = "$guests"
entry = "echo"
EOT
}

conf n1 true
"$rusm" serve n1.toml --workers 1 > n1.log 2>&1 &
pids+=($!)
wait_for n1.log "cluster node n1"
port=$(sed -n 's/.*cluster node n1 (id [0-9]*) on 127.0.0.1:\([0-9]*\).*/\1/p' n1.log)
http=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' n1.log)
[ -n "$port" ] && [ -n "$http" ] || die "no ports in n1's output"
grep -qF "attach on" n1.log || die "n1 does not say attach is on"
node="127.0.0.1:$port"

run 0 "$rusm" attach "$node" -c nodes
grep -q "^n1 .* up .*(this node)" out.txt || die "nodes does not list n1"
grep -qF "operator 'operator' attached from" n1.log || die "n1 did not log the operator"
echo "ok: -c nodes lists n1"

run 0 "$rusm" attach "$node" -c stats
grep -q "^processes" out.txt && grep -q "^workers  *1" out.txt || die "stats: $(cat out.txt)"
run 1 "$rusm" attach "$node" -c 'whereis nobody'
grep -qF "no process registered as 'nobody'" err.txt || die "whereis error: $(cat err.txt)"
[ ! -s out.txt ] || die "a failed answer went to standard output"
run 1 "$rusm" attach "$node" -c 'frobnicate now'
grep -qF "unknown command 'frobnicate'" err.txt || die "bad command: $(cat err.txt)"
run 1 "$rusm" attach "$node" -c 'spawn x.wasm'
grep -qF "not supported yet" err.txt || die "spawn: $(cat err.txt)"
echo "ok: stats, whereis, a bad command (exit 1), spawn not supported yet"

# A WebSocket held open: its handler process lives until the socket goes.
python3 - "$http" > ws.log 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
s.settimeout(30)
while s.recv(4096):
    pass
print("closed", flush=True)
PY
ws=$!
pids+=($ws)
wait_for ws.log "101"
pid=""
for _ in $(seq 50); do
  run 0 "$rusm" attach "$node" -c ps
  pid=$(grep -o '^<[0-9.]*>' out.txt | head -1 || true)
  [ -n "$pid" ] && break
  sleep 0.1
done
[ -n "$pid" ] || die "ps never listed the WebSocket's process: $(cat out.txt)"
echo "ok: -c ps lists $pid"
run 0 "$rusm" attach "$node" -c "info $pid"
grep -qF "$pid" out.txt || die "info $pid: $(cat out.txt)"
run 0 "$rusm" attach "$node" -c "kill $pid"
wait_for ws.log "closed"
run 0 "$rusm" attach "$node" -c ps
grep -qF "$pid" out.txt && die "$pid still listed after kill: $(cat out.txt)"
run 1 "$rusm" attach "$node" -c "kill $pid"
echo "ok: -c 'kill $pid' ended it (its WebSocket closed)"

# Lines on a pipe: answers in order, exit 1 because one failed.
printf 'whereis a\n\n# a comment\nnodes\nwhereis b\n' > lines.txt
code=0
timeout 20 "$rusm" attach "$node" < lines.txt > out.txt 2>&1 || code=$?
[ "$code" -eq 1 ] || die "piped lines exited $code, expected 1"
grep -qF "attached to n1 (id" out.txt || die "no banner: $(cat out.txt)"
a=$(grep -n "registered as 'a'" out.txt | cut -d: -f1)
n=$(grep -n "(this node)" out.txt | cut -d: -f1)
b=$(grep -n "registered as 'b'" out.txt | cut -d: -f1)
[ -n "$a" ] && [ -n "$n" ] && [ -n "$b" ] && [ "$a" -lt "$n" ] && [ "$n" -lt "$b" ] ||
  die "answers out of order: $(cat out.txt)"
printf 'nodes\nstats\n' | timeout 20 "$rusm" attach "$node" > out.txt 2> err.txt ||
  die "two good piped lines did not exit 0"
echo "ok: piped lines answered in order"

# On a terminal (a pseudo-terminal): the greeting and the prompt, a command
# typed and answered, history written, Ctrl-D leaves with status 0.
HOME="$tmp" python3 - "$rusm" "$node" > pty.txt 2>&1 <<'PY' || die "pseudo-terminal session: $(cat pty.txt)"
import os, pty, select, sys, time
rusm, node = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(rusm, [rusm, "attach", node])
seen = b""
def until(what, limit=15, times=1):
    global seen
    end = time.time() + limit
    while seen.count(what) < times:
        if time.time() > end:
            sys.exit("timed out waiting for %r; saw %r" % (what, seen))
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
until(b"attached to n1")
until(b"n1> ")
os.write(fd, b"nodes\r")
until(b"(this node)")
until(b"n1> ", times=2)  # the prompt again after the answer
os.write(fd, b"\x04")
_, status = os.waitpid(pid, 0)
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    sys.exit("rusm attach on a terminal ended with status %r; saw %r" % (status, seen))
hist = os.path.join(os.environ["HOME"], ".rusm_history")
if "nodes" not in open(hist).read():
    sys.exit("the history file lacks the command")
if os.stat(hist).st_mode & 0o077:
    sys.exit("the history file is readable by others")
print("pty ok")
PY
grep -qF "pty ok" pty.txt || die "pseudo-terminal session: $(cat pty.txt)"
echo "ok: on a pseudo-terminal: prompt, a command answered, history kept (0600), Ctrl-D"

# Refusals: exit 2 with one line.
run 2 "$rusm" attach "$node" --name nobody -c nodes
grep -qF "no certificate for operator 'nobody'" err.txt || die "no cert: $(cat err.txt)"
[ "$(wc -l < err.txt)" -eq 1 ] || die "not one line: $(cat err.txt)"
mkdir other && (cd other && "$rusm" cluster ca > /dev/null && "$rusm" cluster cert operator > /dev/null)
run 2 "$rusm" attach "$node" --certs other/cluster-certs -c nodes
grep -qF "cannot attach to $node" err.txt || die "other CA: $(cat err.txt)"
echo "ok: refused: $(cat err.txt)"
# The node's CA trusted, but the operator's certificate is of another CA:
# the node refuses it in the TLS handshake.
mkdir mixed && cp cluster-certs/ca.pem mixed/ && cp other/cluster-certs/operator.* mixed/
run 2 "$rusm" attach "$node" --certs mixed -c nodes
grep -qF "cannot attach to $node" err.txt || die "operator of another CA: $(cat err.txt)"
echo "ok: refused: $(cat err.txt)"
run 2 "$rusm" attach nowhere -c nodes
grep -qF "is not HOST:PORT" err.txt || die "bad address: $(cat err.txt)"
conf n2 false
"$rusm" serve n2.toml --workers 1 > n2.log 2>&1 &
pids+=($!)
wait_for n2.log "cluster node n2"
grep -qF "attach off" n2.log || die "n2 does not say attach is off"
port2=$(sed -n 's/.*cluster node n2 (id [0-9]*) on 127.0.0.1:\([0-9]*\).*/\1/p' n2.log)
run 2 "$rusm" attach "127.0.0.1:$port2" -c nodes
grep -qF "this node does not accept attach" err.txt || die "attach = false: $(cat err.txt)"
echo "ok: refused: $(cat err.txt)"
# The node is still serving operators after all that.
run 0 "$rusm" attach "$node" -c nodes
echo "PASS"
