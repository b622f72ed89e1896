#!/usr/bin/env bash
# `rusm serve` with a [cluster] table, end to end:
#   serve_cluster_test.sh RUSM
# makes a CA and certificates for n1, n2 and n3 with `rusm cluster`, starts
# n1 (cluster port 0: it prints the one it bound), then n2 joining through
# `--seed` and n3 through its config's seeds, and checks that every node
# sees the other two up (a full mesh from one seed each); then kill -9 of n3
# must be seen as "down" by both others, a SIGTERM'd n2 must exit 0, and the
# refusals: --seed without [cluster], a node without its certificate, an
# etcd registry that cannot be reached, a certificate of another CA.
set -euo pipefail
rusm=$(realpath "$1")
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
  for n in n1 n2 n3; do
    [ -f $n.log ] && { echo "--- $n:"; cat $n.log; }
  done
  exit 1
}

# wait_for FILE TEXT: within 15 s FILE has a line with TEXT.
wait_for() {
  for _ in $(seq 150); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$1 never said '$2'"
}

# expect_fail CODE TEXT CMD...: CMD exits with CODE and says TEXT on stderr.
expect_fail() {
  local want=$1 text=$2 code=0
  shift 2
  timeout 20 "$@" > out.txt 2> err.txt || code=$?
  [ "$code" -eq "$want" ] || die "$* exited $code, expected $want (stderr: $(cat err.txt))"
  grep -qF -- "$text" err.txt || die "$* did not say '$text' (stderr: $(cat err.txt))"
  echo "ok: refused: $(head -1 err.txt)"
}

"$rusm" cluster ca > /dev/null
for n in n1 n2 n3; do "$rusm" cluster cert $n > /dev/null; done
mkdir www && echo hello > www/index.html

# conf NAME [SEEDS]: NAME.toml, a site on any free port and a cluster node.
conf() {
  cat > "$1.toml" <<EOF
listen = ["127.0.0.1:0"]

[cluster]
name = "$1"
listen = "127.0.0.1:0"
seeds = [${2:-}]
tick = "1s"

[[route]]
prefix = "/"
kind = "static"
dir = "www"
EOF
}

conf n1
"$rusm" serve n1.toml --workers 1 > n1.log 2>&1 &
pids+=($!)
wait_for n1.log "cluster node n1"
port=$(sed -n 's/.*cluster node n1 (id [0-9]*) on 127.0.0.1:\([0-9]*\).*/\1/p' n1.log)
[ -n "$port" ] || die "no cluster port in n1's output"

conf n2
"$rusm" serve n2.toml --workers 1 --seed "127.0.0.1:$port" > n2.log 2>&1 &
n2=$!
pids+=($n2)
conf n3 "\"127.0.0.1:$port\""
"$rusm" serve n3.toml --workers 1 > n3.log 2>&1 &
n3=$!
pids+=($n3)

# n3 learns of n2 from n1 (and the other way round): a full mesh.
for pair in "n1 n2" "n1 n3" "n2 n1" "n2 n3" "n3 n1" "n3 n2"; do
  set -- $pair
  wait_for "$1.log" "node $2 ("
  wait_for "$1.log" ") is up"
done
grep -qF "node n2 (" n1.log && grep -qF "node n3 (" n2.log || die "not a full mesh"
echo "ok: full mesh of three rusm serve nodes"

kill -9 "$n3"
wait "$n3" 2>/dev/null || true
wait_for n1.log "node n3"
for n in n1 n2; do
  wait_for $n.log "node n3 ("
  for _ in $(seq 150); do
    grep -q "node n3 ([0-9]*) is down" $n.log && break
    sleep 0.1
  done
  grep -q "node n3 ([0-9]*) is down" $n.log || die "$n never saw n3 down"
done
echo "ok: kill -9 of n3 seen by n1 and n2"

kill -TERM "$n2"
code=0
wait "$n2" || code=$?
[ "$code" -eq 0 ] || die "n2 exited $code on SIGTERM"
grep -qF "rusm serve: stopped" n2.log || die "n2 did not stop cleanly"
wait_for n1.log "node n2 ("
for _ in $(seq 150); do
  grep -q "node n2 ([0-9]*) is down" n1.log && break
  sleep 0.1
done
grep -q "node n2 ([0-9]*) is down" n1.log || die "n1 never saw n2 leave"
echo "ok: SIGTERM'd n2 left the cluster and exited 0"

# Refusals.
cat > plain.toml <<EOF
listen = ["127.0.0.1:0"]
[[route]]
prefix = "/"
kind = "static"
dir = "www"
EOF
expect_fail 2 "no [cluster] table" "$rusm" serve plain.toml --seed "127.0.0.1:$port"
expect_fail 2 "is not HOST:PORT" "$rusm" serve n1.toml --seed nowhere
conf n4
expect_fail 2 "n4" "$rusm" serve n4.toml
"$rusm" cluster cert n6 > /dev/null
conf n6
sed -i 's|^tick|etcd = ["http://127.0.0.1:1"]\ntick|' n6.toml
expect_fail 2 "etcd" "$rusm" serve n6.toml
grep -qF "127.0.0.1:1" err.txt || die "the etcd refusal does not name the endpoint: $(cat err.txt)"
mkdir other && (cd other && "$rusm" cluster ca > /dev/null && "$rusm" cluster cert n5 > /dev/null)
conf n5 "\"127.0.0.1:$port\""
sed -i 's|^tick|certs = "other/cluster-certs"\ntick|' n5.toml
"$rusm" serve n5.toml --workers 1 > n5.log 2>&1 &
n5=$!
pids+=($n5)
for _ in $(seq 100); do
  grep -qi "certificate\|refuse\|handshake" n1.log n5.log 2>/dev/null && break
  sleep 0.1
done
sleep 0.5
grep -q "node n5 ([0-9]*) is up" n1.log && die "n1 let a node of another CA in"
grep -q "node n1 ([0-9]*) is up" n5.log && die "n5 joined a cluster of another CA"
echo "ok: a node with another CA's certificate is kept out"
kill -TERM "$n5" || true
echo "PASS"
