// Conformance guest for the crypto calls (abi/rusm.toml v6, docs/crypto.md):
// known-answer tests from the RFCs and NIST, round trips, tampering, key
// handles and their export rule. `all` reports "ok" or the first failure;
// `denied` checks that a process without cap crypto gets EDENIED.
#include <stdio.h>
#include <string.h>

#include "rusm.h"

static rusm_pid g_reporter;

static void fail(int line, const char* what) {
  char buf[200];
  int n = snprintf(buf, sizeof buf, "FAIL line %d: %s", line, what);
  rusm_send(g_reporter, 1, buf, (uint32_t)n);
  rusm_exit_error("check failed");
}
#define CHECK(c)          \
  do {                    \
    if (!(c)) {           \
      fail(__LINE__, #c); \
    }                     \
  } while (0)

static int unhex(const char* hex, uint8_t* out) {
  int n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned v;
    sscanf(hex, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}
static int same_hex(const uint8_t* got, int n, const char* hex) {
  uint8_t want[256];
  return unhex(hex, want) == n && memcmp(got, want, (size_t)n) == 0;
}

RUSM_EXPORT(all) void all(rusm_pid reporter) {
  g_reporter = reporter;
  uint8_t out[256], out2[256];

  // Digests: FIPS 180-2 "abc"; BLAKE2s-256 of "" (RFC 7693 appendix's reference).
  CHECK(rusm_crypto_digest(RUSM_HASH_SHA256, "abc", 3, out, 32) == 32);
  CHECK(same_hex(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK(rusm_crypto_digest(RUSM_HASH_SHA512, "abc", 3, out, sizeof out) == 64);
  CHECK(same_hex(out, 8, "ddaf35a193617aba"));
  CHECK(rusm_crypto_digest(RUSM_HASH_BLAKE2S256, "", 0, out, 32) == 32);
  CHECK(same_hex(out, 32, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"));
  CHECK(rusm_crypto_digest(RUSM_HASH_SHA384, "abc", 3, out, 47) == RUSM_EBADARG);
  CHECK(rusm_crypto_digest(99, "abc", 3, out, 64) == RUSM_ENOTSUP);

  // HMAC-SHA256, RFC 4231 test case 2.
  const char* data = "what do ya want for nothing?";
  CHECK(rusm_crypto_hmac(RUSM_HASH_SHA256, "Jefe", 4, data, (uint32_t)strlen(data), out, 32) == 32);
  CHECK(same_hex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));

  // HKDF-SHA256, RFC 5869 test case 1.
  uint8_t ikm[22], salt[13], info[10];
  memset(ikm, 0x0b, sizeof ikm);
  for (int i = 0; i < 13; ++i)
    salt[i] = (uint8_t)i;
  for (int i = 0; i < 10; ++i)
    info[i] = (uint8_t)(0xf0 + i);
  CHECK(rusm_crypto_hkdf(RUSM_HASH_SHA256, ikm, 22, salt, 13, info, 10, out, 42) == 42);
  CHECK(same_hex(out, 42,
                 "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b88718"
                 "5865"));
  CHECK(rusm_crypto_hkdf(RUSM_HASH_SHA256, ikm, 22, salt, 13, info, 10, out, 255 * 32 + 1) ==
        RUSM_EBADARG);
  // RFC 5869 test case 3: no salt and no info.
  CHECK(rusm_crypto_hkdf(RUSM_HASH_SHA256, ikm, 22, salt, 0, info, 0, out, 42) == 42);
  CHECK(same_hex(out, 42,
                 "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a"
                 "96c8"));

  // An empty IKM (RFC 5869 allows it; OpenSSL's HKDF alone refuses it), no
  // salt, info "info": PRK = HMAC(32 zero bytes, ""), then the expand.
  CHECK(rusm_crypto_hkdf(RUSM_HASH_SHA256, ikm, 0, salt, 0, "info", 4, out, 42) == 42);
  CHECK(same_hex(out, 42,
                 "9c9c026055b7e6649ec5bf9ac4b3485f38735832679e4bced420d37e18e2175541a89768abb7c07f"
                 "96c3"));

  // AES-128-GCM, NIST test case 2 (zero key, nonce and block).
  uint8_t zero[16] = {0};
  int32_t k = rusm_crypto_key_import(RUSM_KEY_AES128_GCM, 0, zero, 16);
  CHECK(k > 0);
  CHECK(rusm_crypto_seal(k, zero, 12, 0, 0, zero, 16, out, sizeof out) == 32);
  CHECK(same_hex(out, 32, "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"));
  CHECK(rusm_crypto_open(k, zero, 12, 0, 0, out, 32, out2, sizeof out2) == 16);
  CHECK(memcmp(out2, zero, 16) == 0);
  out[3] ^= 1;
  CHECK(rusm_crypto_open(k, zero, 12, 0, 0, out, 32, out2, sizeof out2) == RUSM_EAUTH);
  CHECK(rusm_crypto_seal(k, zero, 8, 0, 0, zero, 16, out, sizeof out) == RUSM_EBADARG);
  CHECK(rusm_crypto_seal(k, zero, 12, 0, 0, zero, 16, out, 31) == RUSM_EBADARG);
  CHECK(rusm_crypto_key_export(k, out, sizeof out) == RUSM_EDENIED);  // not exportable
  CHECK(rusm_crypto_key_public(k, out, sizeof out) == RUSM_EBADARG);
  CHECK(rusm_crypto_key_drop(k) == RUSM_OK);
  CHECK(rusm_crypto_seal(k, zero, 12, 0, 0, zero, 16, out, sizeof out) == RUSM_ENOTFOUND);
  CHECK(rusm_crypto_key_import(RUSM_KEY_AES256_GCM, 0, zero, 16) == RUSM_EBADARG);

  // ChaCha20-Poly1305 and AES-256-GCM round trips with associated data.
  for (int kind = RUSM_KEY_AES256_GCM; kind <= RUSM_KEY_CHACHA20_POLY1305; ++kind) {
    int32_t key = rusm_crypto_key_generate(kind, RUSM_KEY_EXPORTABLE);
    CHECK(key > 0);
    uint8_t nonce[12];
    CHECK(rusm_crypto_random(nonce, 12) == RUSM_OK);
    const char* msg = "attack at dawn";
    int32_t n = rusm_crypto_seal(key, nonce, 12, "hdr", 3, msg, 14, out, sizeof out);
    CHECK(n == 14 + 16);
    CHECK(rusm_crypto_open(key, nonce, 12, "hdr", 3, out, (uint32_t)n, out2, sizeof out2) == 14);
    CHECK(memcmp(out2, msg, 14) == 0);
    CHECK(rusm_crypto_open(key, nonce, 12, "hdX", 3, out, (uint32_t)n, out2, sizeof out2) ==
          RUSM_EAUTH);
    CHECK(rusm_crypto_key_export(key, out2, sizeof out2) == 32);  // exportable: its raw bytes
    int32_t again = rusm_crypto_key_import(kind, 0, out2, 32);
    CHECK(again > 0);
    CHECK(rusm_crypto_open(again, nonce, 12, "hdr", 3, out, (uint32_t)n, out2, sizeof out2) == 14);
  }

  // Ed25519, RFC 8032 test 1 (empty message).
  uint8_t seed[32], pub[65], sig[64];
  unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed);
  int32_t ed = rusm_crypto_key_import(RUSM_KEY_ED25519, 0, seed, 32);
  CHECK(ed > 0);
  CHECK(rusm_crypto_key_public(ed, pub, sizeof pub) == 32);
  CHECK(same_hex(pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  CHECK(rusm_crypto_sign(ed, "", 0, sig, sizeof sig) == 64);
  CHECK(same_hex(sig, 64,
                 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
                 "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"));
  CHECK(rusm_crypto_verify(RUSM_KEY_ED25519, pub, 32, "", 0, sig, 64) == RUSM_OK);
  CHECK(rusm_crypto_verify(RUSM_KEY_ED25519, pub, 32, "x", 1, sig, 64) == RUSM_EAUTH);
  CHECK(rusm_crypto_key_export(ed, out, sizeof out) == RUSM_EDENIED);

  // ECDSA P-256: sign, verify, tamper; export as PKCS#8, import, sign again.
  int32_t ec = rusm_crypto_key_generate(RUSM_KEY_ECDSA_P256, RUSM_KEY_EXPORTABLE);
  CHECK(ec > 0);
  CHECK(rusm_crypto_key_public(ec, pub, sizeof pub) == 65);
  CHECK(pub[0] == 0x04);
  CHECK(rusm_crypto_sign(ec, "hello", 5, sig, sizeof sig) == 64);
  CHECK(rusm_crypto_verify(RUSM_KEY_ECDSA_P256, pub, 65, "hello", 5, sig, 64) == RUSM_OK);
  sig[10] ^= 0x40;
  CHECK(rusm_crypto_verify(RUSM_KEY_ECDSA_P256, pub, 65, "hello", 5, sig, 64) == RUSM_EAUTH);
  CHECK(rusm_crypto_verify(RUSM_KEY_ECDSA_P256, pub, 64, "hello", 5, sig, 64) == RUSM_EBADARG);
  int32_t der = rusm_crypto_key_export(ec, out, sizeof out);
  CHECK(der > 64);
  int32_t ec2 = rusm_crypto_key_import(RUSM_KEY_ECDSA_P256, 0, out, (uint32_t)der);
  CHECK(ec2 > 0);
  CHECK(rusm_crypto_sign(ec2, "again", 5, sig, sizeof sig) == 64);
  CHECK(rusm_crypto_verify(RUSM_KEY_ECDSA_P256, pub, 65, "again", 5, sig, 64) == RUSM_OK);
  CHECK(rusm_crypto_key_import(RUSM_KEY_ECDSA_P256, 0, "garbage", 7) == RUSM_EBADARG);
  CHECK(rusm_crypto_sign(rusm_crypto_key_generate(RUSM_KEY_CHACHA20_POLY1305, 0), "x", 1, sig,
                         64) == RUSM_EBADARG);

  // Random and constant-time compare.
  uint8_t r1[32], r2[32];
  CHECK(rusm_crypto_random(r1, 32) == RUSM_OK && rusm_crypto_random(r2, 32) == RUSM_OK);
  CHECK(memcmp(r1, r2, 32) != 0);
  CHECK(rusm_crypto_equal(r1, r1, 32) == 1);
  CHECK(rusm_crypto_equal(r1, r2, 32) == 0);
  CHECK(rusm_crypto_random((void*)0xfffffff0u, 64) == RUSM_EBADARG);

  rusm_send_str(reporter, 1, "ok");
}

RUSM_EXPORT(denied) void denied(rusm_pid reporter) {
  g_reporter = reporter;
  uint8_t out[32];
  CHECK(rusm_crypto_digest(RUSM_HASH_SHA256, "abc", 3, out, 32) == RUSM_EDENIED);
  CHECK(rusm_crypto_random(out, 32) == RUSM_EDENIED);
  CHECK(rusm_crypto_key_generate(RUSM_KEY_ED25519, 0) == RUSM_EDENIED);
  rusm_send_str(reporter, 1, "denied");
}
