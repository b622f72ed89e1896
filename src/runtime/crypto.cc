// The guest's crypto calls (docs/crypto.md; abi/rusm.toml, v6), on OpenSSL 3.
//
// Every call needs the capability crypto. Keys live here, as resources of
// the process (ResourceTable), named by handles: symmetric keys as bytes
// wiped when the key goes, asymmetric ones as EVP_PKEYs. A key's bytes leave
// only through crypto_key_export of a key made exportable.
//
// Each call runs on the worker, inline: the work is bounded by the input,
// which is at most kMaxInput bytes a call, and charged as fuel by the bytes
// read and written (guest_bytes_charged), so a process that hashes a lot is
// preempted like one that computes. An output buffer too small is EBADARG
// (a truncated digest, tag or signature is of no use); calls that write
// return the bytes written.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "runtime/internal.h"

namespace rusm::runtime {

namespace {

using wasm::HostAction;
using wasm::HostCall;

constexpr uint32_t kMaxInput = 16u << 20;  // per argument of one call
constexpr size_t kAeadTag = 16;
constexpr size_t kAeadNonce = 12;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};

// A key held for a process.
struct CryptoKey final : Resource {
  int32_t kind = 0;
  bool exportable = false;
  std::string secret;  // AEAD keys
  Pkey pkey;           // Ed25519, P-256
  ~CryptoKey() override { OPENSSL_cleanse(secret.data(), secret.size()); }
};

bool symmetric(int32_t kind) {
  return kind == kAbiKeyAes128Gcm || kind == kAbiKeyAes256Gcm || kind == kAbiKeyChacha20Poly1305;
}
size_t key_bytes(int32_t kind) {
  return kind == kAbiKeyAes128Gcm ? 16 : 32;
}
const EVP_CIPHER* cipher_of(int32_t kind) {
  switch (kind) {
    case kAbiKeyAes128Gcm:
      return EVP_aes_128_gcm();
    case kAbiKeyAes256Gcm:
      return EVP_aes_256_gcm();
    case kAbiKeyChacha20Poly1305:
      return EVP_chacha20_poly1305();
    default:
      return nullptr;
  }
}
const EVP_MD* md_of(int32_t alg) {
  switch (alg) {
    case kAbiHashSha256:
      return EVP_sha256();
    case kAbiHashSha384:
      return EVP_sha384();
    case kAbiHashSha512:
      return EVP_sha512();
    case kAbiHashBlake2b512:
      return EVP_blake2b512();
    case kAbiHashBlake2s256:
      return EVP_blake2s256();
    default:
      return nullptr;
  }
}

HostAction ret(HostCall& c, int32_t v) {
  c.set_result_i32(0, static_cast<uint32_t>(v));
  return HostAction::kReturn;
}

bool allowed(Process& p) {
  if (p.capabilities().has(kCapCrypto)) {
    return true;
  }
  p.denied(kCapCrypto);
  return false;
}

// An input argument: its bytes, or why not (an error code).
struct In {
  std::string_view bytes;
  int32_t error = kOk;
};
In input(HostCall& c, uint32_t ptr, uint32_t len) {
  if (len > kMaxInput) {
    return {{}, kErrTooLarge};
  }
  auto b = guest_bytes_charged(c, ptr, len);
  if (!b) {
    return {{}, kErrBadArg};
  }
  return {*b, kOk};
}

// Writes out (all of it) to [ptr, ptr+cap): its length, or EBADARG.
int32_t output(HostCall& c, uint32_t ptr, uint32_t cap, std::string_view out) {
  if (out.size() > cap || !guest_write_charged(c, ptr, out)) {
    return kErrBadArg;
  }
  return static_cast<int32_t>(out.size());
}

CryptoKey* key_of(HostCall& c, int32_t handle) {
  return Process::of(c).resources().get<CryptoKey>(handle);
}

// ---- hashing

// crypto_random(buf, len) -> i32
HostAction crypto_random(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  uint32_t len = c.arg_i32(1);
  if (len > kMaxInput) {
    return ret(c, kErrTooLarge);
  }
  std::string buf(len, '\0');
  if (len > 0 &&
      RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(len)) != 1) {
    return ret(c, kErrLimit);
  }
  return ret(c, output(c, c.arg_i32(0), len, buf) < 0 ? kErrBadArg : kOk);
}

// crypto_digest(alg, data, len, out, cap) -> i32 bytes
HostAction crypto_digest(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  const EVP_MD* md = md_of(static_cast<int32_t>(c.arg_i32(0)));
  if (md == nullptr) {
    return ret(c, kErrNotSupported);
  }
  In data = input(c, c.arg_i32(1), c.arg_i32(2));
  if (data.error != kOk) {
    return ret(c, data.error);
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.bytes.data(), data.bytes.size(), out, &n, md, nullptr) != 1) {
    return ret(c, kErrLimit);
  }
  return ret(
      c, output(c, c.arg_i32(3), c.arg_i32(4), std::string_view(reinterpret_cast<char*>(out), n)));
}

// crypto_hmac(alg, key, key_len, data, len, out, cap) -> i32 bytes
HostAction crypto_hmac(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  const EVP_MD* md = md_of(static_cast<int32_t>(c.arg_i32(0)));
  if (md == nullptr) {
    return ret(c, kErrNotSupported);
  }
  In key = input(c, c.arg_i32(1), c.arg_i32(2));
  In data = input(c, c.arg_i32(3), c.arg_i32(4));
  if (key.error != kOk || data.error != kOk) {
    return ret(c, key.error != kOk ? key.error : data.error);
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (HMAC(md, key.bytes.data(), static_cast<int>(key.bytes.size()),
           reinterpret_cast<const unsigned char*>(data.bytes.data()), data.bytes.size(), out,
           &n) == nullptr) {
    return ret(c, kErrLimit);
  }
  return ret(
      c, output(c, c.arg_i32(5), c.arg_i32(6), std::string_view(reinterpret_cast<char*>(out), n)));
}

// crypto_hkdf(alg, ikm, ikm_len, salt, salt_len, info, info_len, out, out_len) -> i32
HostAction crypto_hkdf(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  const EVP_MD* md = md_of(static_cast<int32_t>(c.arg_i32(0)));
  if (md == nullptr) {
    return ret(c, kErrNotSupported);
  }
  In ikm = input(c, c.arg_i32(1), c.arg_i32(2));
  In salt = input(c, c.arg_i32(3), c.arg_i32(4));
  In info = input(c, c.arg_i32(5), c.arg_i32(6));
  for (const In* a : {&ikm, &salt, &info}) {
    if (a->error != kOk) {
      return ret(c, a->error);
    }
  }
  uint32_t out_len = c.arg_i32(8);
  if (out_len == 0 || out_len > 255u * static_cast<uint32_t>(EVP_MD_get_size(md)) ||
      info.bytes.size() > 1024) {
    return ret(c, kErrBadArg);  // RFC 5869's bound; OpenSSL's on info
  }
  // Extract (RFC 5869 2.2) here: PRK = HMAC(salt, IKM), with HashLen zero
  // bytes for no salt. OpenSSL's HKDF refuses an empty IKM, which the RFC
  // allows; its expand-only mode then takes the PRK.
  auto u = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  const size_t hash_len = static_cast<size_t>(EVP_MD_get_size(md));
  const std::string zeros(hash_len, '\0');
  std::string_view salt_key = salt.bytes.empty() ? std::string_view(zeros) : salt.bytes;
  unsigned char prk[EVP_MAX_MD_SIZE];
  unsigned int prk_len = 0;
  if (HMAC(md, salt_key.data(), static_cast<int>(salt_key.size()), u(ikm.bytes), ikm.bytes.size(),
           prk, &prk_len) == nullptr) {
    return ret(c, kErrLimit);
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string out(out_len, '\0');
  size_t n = out_len;
  bool ok =
      ctx && EVP_PKEY_derive_init(ctx.get()) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx.get(), md) == 1 &&
      EVP_PKEY_CTX_set_hkdf_mode(ctx.get(), EVP_PKEY_HKDEF_MODE_EXPAND_ONLY) == 1 &&
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), prk, static_cast<int>(prk_len)) == 1 &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), u(info.bytes), static_cast<int>(info.bytes.size())) ==
          1 &&
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n) == 1 &&
      n == out_len;
  OPENSSL_cleanse(prk, sizeof prk);
  if (!ok) {
    return ret(c, kErrLimit);
  }
  int32_t r = output(c, c.arg_i32(7), out_len, out);
  OPENSSL_cleanse(out.data(), out.size());
  return ret(c, r);
}

// crypto_equal(a, b, len) -> i32: 1 equal, 0 not, in time independent of
// where they differ.
HostAction crypto_equal(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  In a = input(c, c.arg_i32(0), c.arg_i32(2));
  In b = input(c, c.arg_i32(1), c.arg_i32(2));
  if (a.error != kOk || b.error != kOk) {
    return ret(c, a.error != kOk ? a.error : b.error);
  }
  return ret(c, CRYPTO_memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0 ? 1 : 0);
}

// ---- keys

// A new key resource for the calling process: its handle, or ELIMIT.
int32_t keep(HostCall& c, std::unique_ptr<CryptoKey> k) {
  int32_t h = Process::of(c).resources().add(std::move(k));
  return h > 0 ? h : kErrLimit;
}

// crypto_key_generate(kind, flags) -> i32 handle
HostAction crypto_key_generate(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  auto k = std::make_unique<CryptoKey>();
  k->kind = static_cast<int32_t>(c.arg_i32(0));
  k->exportable = (c.arg_i32(1) & kAbiKeyExportable) != 0;
  if (symmetric(k->kind)) {
    k->secret.assign(key_bytes(k->kind), '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(k->secret.data()),
                   static_cast<int>(k->secret.size())) != 1) {
      return ret(c, kErrLimit);
    }
  } else if (k->kind == kAbiKeyEd25519) {
    k->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  } else if (k->kind == kAbiKeyEcdsaP256) {
    k->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  } else {
    return ret(c, kErrNotSupported);
  }
  if (!symmetric(k->kind) && !k->pkey) {
    return ret(c, kErrLimit);
  }
  return ret(c, keep(c, std::move(k)));
}

bool is_p256(EVP_PKEY* p) {
  char group[32] = {};
  size_t n = 0;
  return EVP_PKEY_is_a(p, "EC") &&
         EVP_PKEY_get_utf8_string_param(p, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &n) ==
             1 &&
         std::string_view(group, n) == "prime256v1";
}

// crypto_key_import(kind, flags, bytes, len) -> i32 handle. AEAD keys: their
// raw bytes; Ed25519: the 32-byte private key; P-256: PKCS#8 DER.
HostAction crypto_key_import(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  auto k = std::make_unique<CryptoKey>();
  k->kind = static_cast<int32_t>(c.arg_i32(0));
  k->exportable = (c.arg_i32(1) & kAbiKeyExportable) != 0;
  In bytes = input(c, c.arg_i32(2), c.arg_i32(3));
  if (bytes.error != kOk) {
    return ret(c, bytes.error);
  }
  auto u = reinterpret_cast<const unsigned char*>(bytes.bytes.data());
  if (symmetric(k->kind)) {
    if (bytes.bytes.size() != key_bytes(k->kind)) {
      return ret(c, kErrBadArg);
    }
    k->secret.assign(bytes.bytes);
  } else if (k->kind == kAbiKeyEd25519) {
    if (bytes.bytes.size() != 32) {
      return ret(c, kErrBadArg);
    }
    k->pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, u, 32));
  } else if (k->kind == kAbiKeyEcdsaP256) {
    const unsigned char* p = u;
    k->pkey.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(bytes.bytes.size())));
    if (k->pkey && !is_p256(k->pkey.get())) {
      k->pkey.reset();
    }
  } else {
    return ret(c, kErrNotSupported);
  }
  if (!symmetric(k->kind) && !k->pkey) {
    return ret(c, kErrBadArg);
  }
  return ret(c, keep(c, std::move(k)));
}

// crypto_key_export(key, out, cap) -> i32 bytes (the forms import takes)
HostAction crypto_key_export(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  CryptoKey* k = key_of(c, static_cast<int32_t>(c.arg_i32(0)));
  if (k == nullptr) {
    return ret(c, kErrNotFound);
  }
  if (!k->exportable) {
    return ret(c, kErrDenied);
  }
  std::string out;
  if (symmetric(k->kind)) {
    out = k->secret;
  } else if (k->kind == kAbiKeyEd25519) {
    out.assign(32, '\0');
    size_t n = 32;
    if (EVP_PKEY_get_raw_private_key(k->pkey.get(), reinterpret_cast<unsigned char*>(out.data()),
                                     &n) != 1) {
      return ret(c, kErrLimit);
    }
  } else {
    PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(k->pkey.get());
    unsigned char* der = nullptr;
    int n = p8 != nullptr ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0) {
      return ret(c, kErrLimit);
    }
    out.assign(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_clear_free(der, static_cast<size_t>(n));
  }
  int32_t r = output(c, c.arg_i32(1), c.arg_i32(2), out);
  OPENSSL_cleanse(out.data(), out.size());
  return ret(c, r);
}

// The public half of an asymmetric key: Ed25519 32 raw bytes, P-256 the
// uncompressed point (65 bytes), as crypto_verify takes them.
std::string public_bytes(EVP_PKEY* p, int32_t kind) {
  unsigned char buf[80];
  size_t n = 0;
  if (kind == kAbiKeyEd25519) {
    n = sizeof buf;
    if (EVP_PKEY_get_raw_public_key(p, buf, &n) != 1) {
      return {};
    }
  } else if (EVP_PKEY_get_octet_string_param(p, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &n) !=
             1) {
    return {};
  }
  return std::string(reinterpret_cast<char*>(buf), n);
}

// crypto_key_public(key, out, cap) -> i32 bytes
HostAction crypto_key_public(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  CryptoKey* k = key_of(c, static_cast<int32_t>(c.arg_i32(0)));
  if (k == nullptr) {
    return ret(c, kErrNotFound);
  }
  if (symmetric(k->kind)) {
    return ret(c, kErrBadArg);  // no public half
  }
  std::string pub = public_bytes(k->pkey.get(), k->kind);
  if (pub.empty()) {
    return ret(c, kErrLimit);
  }
  return ret(c, output(c, c.arg_i32(1), c.arg_i32(2), pub));
}

// crypto_key_drop(key) -> i32
HostAction crypto_key_drop(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  int32_t h = static_cast<int32_t>(c.arg_i32(0));
  if (key_of(c, h) == nullptr) {
    return ret(c, kErrNotFound);
  }
  Process::of(c).resources().close(h);
  return ret(c, kOk);
}

// ---- AEAD

// crypto_seal / crypto_open(key, nonce, nonce_len, aad, aad_len, data, len,
// out, cap) -> i32 bytes: seal writes ciphertext || 16-byte tag; open takes
// that and writes the plaintext, or EAUTH if it does not verify.
int32_t aead(HostCall& c, bool seal) {
  if (!allowed(Process::of(c))) {
    return kErrDenied;
  }
  CryptoKey* k = key_of(c, static_cast<int32_t>(c.arg_i32(0)));
  if (k == nullptr) {
    return kErrNotFound;
  }
  const EVP_CIPHER* cipher = cipher_of(k->kind);
  if (cipher == nullptr) {
    return kErrBadArg;  // not an AEAD key
  }
  In nonce = input(c, c.arg_i32(1), c.arg_i32(2));
  In aad = input(c, c.arg_i32(3), c.arg_i32(4));
  In data = input(c, c.arg_i32(5), c.arg_i32(6));
  for (const In* a : {&nonce, &aad, &data}) {
    if (a->error != kOk) {
      return a->error;
    }
  }
  if (nonce.bytes.size() != kAeadNonce || (!seal && data.bytes.size() < kAeadTag)) {
    return kErrBadArg;
  }
  std::string_view body = seal ? data.bytes : data.bytes.substr(0, data.bytes.size() - kAeadTag);
  std::string out(body.size() + (seal ? kAeadTag : 0), '\0');
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  auto u = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  auto w = reinterpret_cast<unsigned char*>(out.data());
  int n = 0, tail = 0;
  bool ok =
      ctx && EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, seal) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kAeadNonce, nullptr) == 1 &&
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, u(k->secret), u(nonce.bytes), seal) == 1 &&
      (aad.bytes.empty() || EVP_CipherUpdate(ctx.get(), nullptr, &n, u(aad.bytes),
                                             static_cast<int>(aad.bytes.size())) == 1) &&
      (body.empty() ||
       EVP_CipherUpdate(ctx.get(), w, &n, u(body), static_cast<int>(body.size())) == 1);
  if (!ok) {
    return kErrLimit;
  }
  if (seal) {
    if (EVP_CipherFinal_ex(ctx.get(), w + n, &tail) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kAeadTag, w + body.size()) != 1) {
      return kErrLimit;
    }
  } else {
    std::string tag(data.bytes.substr(body.size()));
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kAeadTag, tag.data()) != 1) {
      return kErrLimit;
    }
    if (EVP_CipherFinal_ex(ctx.get(), w + n, &tail) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return kErrAuth;
    }
  }
  int32_t r = output(c, c.arg_i32(7), c.arg_i32(8), out);
  if (!seal) {
    OPENSSL_cleanse(out.data(), out.size());
  }
  return r;
}
HostAction crypto_seal(HostCall& c) {
  return ret(c, aead(c, true));
}
HostAction crypto_open(HostCall& c) {
  return ret(c, aead(c, false));
}

// ---- signatures (Ed25519: 64 bytes; ECDSA P-256 over SHA-256: r || s, 64
// bytes, as Web Crypto gives them)

// ECDSA's DER signature <-> r || s.
std::string der_to_raw(const unsigned char* der, size_t len) {
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(len));
  if (sig == nullptr) {
    return {};
  }
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(64, '\0');
  auto w = reinterpret_cast<unsigned char*>(out.data());
  bool ok = BN_bn2binpad(r, w, 32) == 32 && BN_bn2binpad(s, w + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  return ok ? out : std::string();
}
std::string raw_to_der(std::string_view raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  auto u = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(u, 32, nullptr);
  BIGNUM* s = BN_bin2bn(u + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return {};
  }
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (n <= 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

// crypto_sign(key, data, len, out, cap) -> i32 bytes (64)
HostAction crypto_sign(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  CryptoKey* k = key_of(c, static_cast<int32_t>(c.arg_i32(0)));
  if (k == nullptr) {
    return ret(c, kErrNotFound);
  }
  if (k->kind != kAbiKeyEd25519 && k->kind != kAbiKeyEcdsaP256) {
    return ret(c, kErrBadArg);  // not a signing key
  }
  In data = input(c, c.arg_i32(1), c.arg_i32(2));
  if (data.error != kOk) {
    return ret(c, data.error);
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const EVP_MD* md = k->kind == kAbiKeyEd25519 ? nullptr : EVP_sha256();
  unsigned char sig[160];
  size_t n = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, k->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &n, reinterpret_cast<const unsigned char*>(data.bytes.data()),
                     data.bytes.size()) != 1) {
    return ret(c, kErrLimit);
  }
  std::string out =
      k->kind == kAbiKeyEd25519 ? std::string(reinterpret_cast<char*>(sig), n) : der_to_raw(sig, n);
  if (out.empty()) {
    return ret(c, kErrLimit);
  }
  return ret(c, output(c, c.arg_i32(3), c.arg_i32(4), out));
}

// A public key from its bytes (public_bytes' forms), or null.
Pkey public_key(int32_t kind, std::string_view pub) {
  auto u = reinterpret_cast<const unsigned char*>(pub.data());
  if (kind == kAbiKeyEd25519) {
    return pub.size() == 32 ? Pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, u, 32))
                            : nullptr;
  }
  if (pub.size() != 65 || u[0] != 0x04) {
    return nullptr;
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* out = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (bld != nullptr && ctx != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, u, pub.size()) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      out = nullptr;  // not a point on the curve
    }
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  return Pkey(out);
}

// crypto_verify(kind, pub, pub_len, data, len, sig, sig_len) -> i32: OK, or
// EAUTH if the signature does not verify
HostAction crypto_verify(HostCall& c) {
  if (!allowed(Process::of(c))) {
    return ret(c, kErrDenied);
  }
  int32_t kind = static_cast<int32_t>(c.arg_i32(0));
  if (kind != kAbiKeyEd25519 && kind != kAbiKeyEcdsaP256) {
    return ret(c, kErrNotSupported);
  }
  In pub = input(c, c.arg_i32(1), c.arg_i32(2));
  In data = input(c, c.arg_i32(3), c.arg_i32(4));
  In sig = input(c, c.arg_i32(5), c.arg_i32(6));
  for (const In* a : {&pub, &data, &sig}) {
    if (a->error != kOk) {
      return ret(c, a->error);
    }
  }
  Pkey key = public_key(kind, pub.bytes);
  if (!key) {
    return ret(c, kErrBadArg);
  }
  if (sig.bytes.size() != 64) {
    return ret(c, kErrAuth);
  }
  std::string der = kind == kAbiKeyEd25519 ? std::string(sig.bytes) : raw_to_der(sig.bytes);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const EVP_MD* md = kind == kAbiKeyEd25519 ? nullptr : EVP_sha256();
  bool ok = ctx && !der.empty() &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()),
                             der.size(), reinterpret_cast<const unsigned char*>(data.bytes.data()),
                             data.bytes.size()) == 1;
  return ret(c, ok ? kOk : kErrAuth);
}

const HostDef kCryptoDefs[] = {
    {"crypto_random", crypto_random},
    {"crypto_digest", crypto_digest},
    {"crypto_hmac", crypto_hmac},
    {"crypto_hkdf", crypto_hkdf},
    {"crypto_key_generate", crypto_key_generate},
    {"crypto_key_import", crypto_key_import},
    {"crypto_key_export", crypto_key_export},
    {"crypto_key_public", crypto_key_public},
    {"crypto_key_drop", crypto_key_drop},
    {"crypto_seal", crypto_seal},
    {"crypto_open", crypto_open},
    {"crypto_sign", crypto_sign},
    {"crypto_verify", crypto_verify},
    {"crypto_equal", crypto_equal},
};

}  // namespace

void add_crypto_imports(Runtime::Impl& impl) {
  add_host_defs(impl, kCryptoDefs);
}

}  // namespace rusm::runtime
