#!/usr/bin/env bash
# `rusm attach` against a `rusm serve` node, end to end:
#   attach_cluster_test.sh RUSM GUESTS_WASM
# makes a CA and certificates (n1, operator) with `rusm cluster`, serves a
# WebSocket echo route (GUESTS_WASM's `echo`, one process per connection) on
# a node with a [cluster] table, and checks: -c nodes names the node; with a
# WebSocket open, -c ps lists its process and -c 'kill PID' ends it (the
# socket closes, ps no longer lists it); stats, whereis's error (exit 1);
# spawn of a route's module here and (remote spawn) on a second node n2;
# trace of the WebSocket's process (Ctrl-C on a terminal; until its kill);
# lines on a pipe answered in order; the refusals (exit 2): no certificate
# files, a certificate of another CA, a node with attach = false, a bad
# address; a bad command exits 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
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
grep -qF "spawn x.wasm: " err.txt || die "spawn of a missing file: $(cat err.txt)"
run 1 "$rusm" attach "$node" -c 'spawn route0 hello 1 --allow teleport'
grep -qF "unknown capability 'teleport'" err.txt || die "spawn --allow: $(cat err.txt)"
run 0 "$rusm" attach "$node" -c 'spawn route0 hello 1'
grep -q '^<[0-9]*\.[0-9]*\.[0-9]*>$' out.txt || die "spawn answered no pid: $(cat out.txt)"
echo "ok: stats, whereis, a bad command (exit 1), spawn (a route's module; errors)"

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
# trace on a terminal: the stream starts, Ctrl-C stops it (not attach),
# the prompt comes back.
HOME="$tmp" python3 "$here/attach_pty.py" "$rusm" "$node" trace "$pid" > pty-trace.txt 2>&1 ||
  die "trace on a pseudo-terminal: $(cat pty-trace.txt)"
grep -qF "pty ok" pty-trace.txt || die "trace on a pseudo-terminal: $(cat pty-trace.txt)"
echo "ok: trace $pid streams on a terminal; Ctrl-C stops the trace, not attach"
# -c 'trace PID' until the process exits: its exit is the last line.
"$rusm" attach "$node" -c "trace $pid" > trace.txt 2>&1 &
tracer=$!
pids+=($tracer)
wait_for trace.txt "tracing $pid"
run 0 "$rusm" attach "$node" -c "kill $pid"
wait "$tracer" || die "attach -c trace exited $?: $(cat trace.txt)"
grep -qF "$pid exit: killed" trace.txt || die "trace saw no exit: $(cat trace.txt)"
grep -qF "trace of $pid ended (it exited)" trace.txt || die "trace end: $(cat trace.txt)"
echo "ok: -c 'trace $pid' streamed until its kill"
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
HOME="$tmp" python3 "$here/attach_pty.py" "$rusm" "$node" basic > pty.txt 2>&1 ||
  die "pseudo-terminal session: $(cat pty.txt)"
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
"$rusm" serve n2.toml --workers 1 --seed "$node" > n2.log 2>&1 &
pids+=($!)
wait_for n2.log "cluster node n2"
grep -qF "attach off" n2.log || die "n2 does not say attach is off"
port2=$(sed -n 's/.*cluster node n2 (id [0-9]*) on 127.0.0.1:\([0-9]*\).*/\1/p' n2.log)
id2=$(sed -n 's/.*cluster node n2 (id \([0-9]*\)).*/\1/p' n2.log)
run 2 "$rusm" attach "127.0.0.1:$port2" -c nodes
grep -qF "this node does not accept attach" err.txt || die "attach = false: $(cat err.txt)"
echo "ok: refused: $(cat err.txt)"
# A spawn on n2 from n1's shell: the module goes to n2, the pid is n2's.
wait_for n1.log "node n2 ($id2) is up"
run 0 "$rusm" attach "$node" -c 'spawn route0 hello 1 --node n2'
grep -q "^<$id2\.[0-9]*\.[0-9]*>$" out.txt || die "spawn --node n2: $(cat out.txt)"
remote=$(cat out.txt)
run 1 "$rusm" attach "$node" -c 'spawn route0 hello 1 --node n9'
grep -qF "no node named 'n9'" err.txt || die "spawn --node n9: $(cat err.txt)"
echo "ok: spawn --node n2 ran on n2 ($remote)"
# The node is still serving operators after all that.
run 0 "$rusm" attach "$node" -c nodes
echo "PASS"
