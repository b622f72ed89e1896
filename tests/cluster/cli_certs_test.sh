#!/usr/bin/env bash
# `rusm cluster ca` and `rusm cluster cert` end to end, checked by the
# openssl command line (an independent verifier):
#   cli_certs_test.sh RUSM
# makes a CA and two node certificates in a temporary directory, verifies
# them with `openssl verify -CAfile` for TLS client and server use, checks
# the SAN, the key modes and the printed next step, and that an existing
# CA, a bad name and a missing CA are refused with the right exit status.
set -euo pipefail
rusm=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

die() {
  echo "FAIL: $*"
  exit 1
}

# expect_fail CODE TEXT CMD...: CMD exits with CODE and says TEXT on stderr.
expect_fail() {
  local want=$1 text=$2 code=0
  shift 2
  "$@" > out.txt 2> err.txt || code=$?
  [ "$code" -eq "$want" ] || die "$* exited $code, expected $want (stderr: $(cat err.txt))"
  grep -qF -- "$text" err.txt || die "$* did not say '$text' (stderr: $(cat err.txt))"
}

"$rusm" cluster ca > ca.out || die "rusm cluster ca failed"
grep -qF "cluster-certs/ca.pem" ca.out || die "ca: did not say what it wrote: $(cat ca.out)"
grep -qF "next: rusm cluster cert NAME" ca.out || die "ca: no next step: $(cat ca.out)"
"$rusm" cluster cert n1 > n1.out || die "rusm cluster cert n1 failed"
grep -qF "cluster-certs/n1.key" n1.out || die "cert: did not say what it wrote: $(cat n1.out)"
"$rusm" cluster cert n2 --dir cluster-certs --days 7 > /dev/null || die "cert n2 failed"

d=cluster-certs
for n in n1 n2; do
  for purpose in sslserver sslclient; do
    openssl verify -purpose "$purpose" -CAfile $d/ca.pem $d/$n.pem > verify.out 2>&1 ||
      die "openssl verify -purpose $purpose $n.pem: $(cat verify.out)"
  done
  openssl x509 -in $d/$n.pem -noout -ext subjectAltName | grep -qF "DNS:$n" ||
    die "$n.pem has no SAN DNS:$n"
  [ "$(stat -c %a $d/$n.key)" = 600 ] || die "$n.key has mode $(stat -c %a $d/$n.key)"
  # The key is the certificate's.
  [ "$(openssl pkey -in $d/$n.key -pubout)" = "$(openssl x509 -in $d/$n.pem -noout -pubkey)" ] ||
    die "$n.key is not the key of $n.pem"
done
[ "$(stat -c %a $d/ca.key)" = 600 ] || die "ca.key has mode $(stat -c %a $d/ca.key)"
openssl x509 -in $d/n2.pem -noout -checkend $((8 * 86400)) > /dev/null &&
  die "n2.pem (--days 7) is valid for more than 8 days"

# Refusals: nothing overwritten, bad input is a usage error (2).
before=$(sha256sum $d/ca.pem)
expect_fail 1 "already exists" "$rusm" cluster ca
[ "$(sha256sum $d/ca.pem)" = "$before" ] || die "a refused rusm cluster ca changed ca.pem"
expect_fail 1 "already exists" "$rusm" cluster cert n1
expect_fail 2 "bad node name" "$rusm" cluster cert ../evil
expect_fail 2 "bad node name" "$rusm" cluster cert ca
expect_fail 2 "--days" "$rusm" cluster cert n3 --days 0
expect_fail 1 "rusm cluster ca" "$rusm" cluster cert n3 --dir elsewhere
[ ! -e elsewhere/n3.key ] || die "a refused cert left a key behind"
"$rusm" cluster ca --force > /dev/null || die "rusm cluster ca --force failed"
[ "$(sha256sum $d/ca.pem)" != "$before" ] || die "--force did not replace ca.pem"
# n1 was signed by the old CA: the new one must not vouch for it.
openssl verify -CAfile $d/ca.pem $d/n1.pem > /dev/null 2>&1 &&
  die "n1.pem of the replaced CA verified against the new one"
echo "ok"
