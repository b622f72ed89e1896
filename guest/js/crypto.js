// Web Crypto's JS side (docs/js.md "Web Crypto"): crypto.subtle but digest
// (in prelude.js) and crypto.randomUUID, on the native calls of platform.c; compiled the first
// time a process uses them (see platform.js). `lib` is what it needs of
// prelude.js.
(function (native, lib) {
  "use strict";

  const { encodeUtf8 } = lib;

  const kDigests = { "SHA-256": 1, "SHA-384": 2, "SHA-512": 3 };
  // Web Crypto's keys. Secret bytes of HMAC and HKDF keys and public keys
  // live in this closure (keyData); AES-GCM, ChaCha20-Poly1305, Ed25519 and
  // ECDSA private keys stay in the host (a handle object whose collection
  // drops the handle).
  class DOMException extends Error {
    constructor(message = "", name = "Error") {
      super(message);
      Object.defineProperty(this, "name", { value: name, writable: true, configurable: true });
    }
  }
  const notSupported = (what) => new DOMException(`crypto.subtle: not supported yet: ${what}`,
                                                  "NotSupportedError");
  const kBlockBytes = { "SHA-256": 64, "SHA-384": 128, "SHA-512": 128 };
  const kHashBytes = { "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
  const kKinds = { "AES-128-GCM": 1, "AES-256-GCM": 2, "ChaCha20-Poly1305": 3, "Ed25519": 4, "ECDSA-P-256": 5 };
  // A rusm extension (not in Web Crypto): ChaCha20-Poly1305 keys, used as
  // AES-GCM keys are (encrypt/decrypt, a 12-byte iv, the tag appended).
  const kChaCha = "ChaCha20-Poly1305";
  // PKCS#8 of an Ed25519 private key: this prefix, then its 32 bytes.
  const kEd25519Pkcs8 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                         0x04, 0x22, 0x04, 0x20];
  const algName = (a) => String(typeof a === "string" ? a : a && a.name);
  const hashName = (h) => {
    const name = algName(h).toUpperCase();
    if (kDigests[name] === undefined) throw notSupported(`the hash '${algName(h)}' (SHA-256, SHA-384, SHA-512)`);
    return name;
  };
  function bufferSource(data, what) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
    if (ArrayBuffer.isView(data)) {
      return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    }
    if (typeof data === "string") return new Uint8Array(encodeUtf8(data));
    throw new TypeError(`crypto.subtle: ${what} must be an ArrayBuffer or a typed array`);
  }
  // Data for a call that uses it at once: no copy (the host copies it).
  function dataOf(data, what) {
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data) || typeof data === "string") return data;
    throw new TypeError(`crypto.subtle: ${what} must be an ArrayBuffer or a typed array`);
  }
  const keyData = new WeakMap(); // CryptoKey -> {bytes?, handle?, kind?}
  class CryptoKey {
    constructor(type, extractable, algorithm, usages, data) {
      this.type = type;
      this.extractable = !!extractable;
      this.algorithm = Object.freeze(algorithm);
      this.usages = Object.freeze(usages.slice());
      Object.freeze(this);
      keyData.set(this, data);
    }
  }
  function usable(key, use) {
    if (!(key instanceof CryptoKey)) throw new TypeError("crypto.subtle: a CryptoKey expected");
    if (!key.usages.includes(use)) {
      throw new DOMException(`crypto.subtle: the key's usages do not include '${use}'`, "InvalidAccessError");
    }
    return keyData.get(key);
  }
  const usagesOf = (usages) => Array.from(usages || [], String);
  const only = (usages, allowed) => usagesOf(usages).filter((u) => allowed.includes(u));
  function algorithmKey(algorithm, type) {
    const name = algName(algorithm);
    const upper = name.toUpperCase();
    if (upper === "ED25519") return { name: "Ed25519", kind: kKinds.Ed25519 };
    if (upper === "ECDSA") {
      if (String(algorithm.namedCurve) !== "P-256") throw notSupported(`the curve '${algorithm.namedCurve}' (P-256)`);
      return { name: "ECDSA", namedCurve: "P-256", kind: kKinds["ECDSA-P-256"] };
    }
    throw notSupported(`the algorithm '${name}' for ${type} (HMAC, AES-GCM, ${kChaCha}, HKDF, Ed25519, ECDSA P-256)`);
  }
  function importKeySync(format, keyData_, algorithm, extractable, usages) {
    const name = algName(algorithm).toUpperCase();
    if (format !== "raw" && format !== "pkcs8") throw notSupported(`the key format '${format}' (raw, pkcs8)`);
    const bytes = bufferSource(keyData_, "keyData");
    if (name === "HMAC") {
      if (format !== "raw") throw notSupported(`the key format '${format}' for HMAC (raw)`);
      const hash = hashName(algorithm.hash);
      return new CryptoKey("secret", extractable,
                           { name: "HMAC", hash: { name: hash }, length: bytes.length * 8 },
                           only(usages, ["sign", "verify"]), { bytes });
    }
    if (name === "AES-GCM") {
      if (format !== "raw") throw notSupported(`the key format '${format}' for AES-GCM (raw)`);
      if (bytes.length !== 16 && bytes.length !== 32) {
        throw notSupported(`an AES key of ${bytes.length * 8} bits (128, 256)`);
      }
      const handle = native.keyImport(bytes.length === 16 ? 1 : 2, extractable, bytes);
      return new CryptoKey("secret", extractable, { name: "AES-GCM", length: bytes.length * 8 },
                           only(usages, ["encrypt", "decrypt"]), { handle });
    }
    if (name === kChaCha.toUpperCase()) {
      if (format !== "raw") throw notSupported(`the key format '${format}' for ${kChaCha} (raw)`);
      if (bytes.length !== 32) throw notSupported(`a ${kChaCha} key of ${bytes.length * 8} bits (256)`);
      const handle = native.keyImport(kKinds[kChaCha], extractable, bytes);
      return new CryptoKey("secret", extractable, { name: kChaCha, length: 256 },
                           only(usages, ["encrypt", "decrypt"]), { handle });
    }
    if (name === "HKDF") {
      if (format !== "raw") throw notSupported(`the key format '${format}' for HKDF (raw)`);
      if (extractable) {
        throw new DOMException("crypto.subtle.importKey: an HKDF key cannot be extractable", "SyntaxError");
      }
      return new CryptoKey("secret", false, { name: "HKDF" }, only(usages, ["deriveBits", "deriveKey"]), { bytes });
    }
    const a = algorithmKey(algorithm, "importKey");
    const alg = a.namedCurve ? { name: a.name, namedCurve: a.namedCurve } : { name: a.name };
    if (format === "raw") {
      return new CryptoKey("public", true, alg, only(usages, ["verify"]), { bytes, kind: a.kind });
    }
    let der = bytes;
    if (a.kind === kKinds.Ed25519) {
      if (bytes.length !== 48 || kEd25519Pkcs8.some((b, i) => bytes[i] !== b)) {
        throw new DOMException("crypto.subtle.importKey: not an Ed25519 PKCS#8 key", "DataError");
      }
      der = bytes.slice(16);
    }
    const handle = native.keyImport(a.kind, extractable, der);
    return new CryptoKey("private", extractable, alg, only(usages, ["sign"]), { handle, kind: a.kind });
  }
  function generateKeySync(algorithm, extractable, usages) {
    const name = algName(algorithm).toUpperCase();
    if (name === "HMAC") {
      const hash = hashName(algorithm.hash);
      const bits = algorithm.length === undefined ? kBlockBytes[hash] * 8 : Number(algorithm.length);
      if (!(bits > 0 && bits % 8 === 0 && bits <= 8 * 1024)) throw notSupported(`an HMAC key of ${bits} bits`);
      const bytes = native.randomFill(new Uint8Array(bits / 8));
      return new CryptoKey("secret", extractable, { name: "HMAC", hash: { name: hash }, length: bits },
                           only(usages, ["sign", "verify"]), { bytes });
    }
    if (name === "AES-GCM") {
      const bits = Number(algorithm.length);
      if (bits !== 128 && bits !== 256) throw notSupported(`an AES key of ${algorithm.length} bits (128, 256)`);
      const handle = native.keyGenerate(bits === 128 ? 1 : 2, extractable);
      return new CryptoKey("secret", extractable, { name: "AES-GCM", length: bits },
                           only(usages, ["encrypt", "decrypt"]), { handle });
    }
    if (name === kChaCha.toUpperCase()) {
      if (algorithm.length !== undefined && Number(algorithm.length) !== 256) {
        throw notSupported(`a ${kChaCha} key of ${algorithm.length} bits (256)`);
      }
      const handle = native.keyGenerate(kKinds[kChaCha], extractable);
      return new CryptoKey("secret", extractable, { name: kChaCha, length: 256 },
                           only(usages, ["encrypt", "decrypt"]), { handle });
    }
    const a = algorithmKey(algorithm, "generateKey");
    const alg = a.namedCurve ? { name: a.name, namedCurve: a.namedCurve } : { name: a.name };
    const handle = native.keyGenerate(a.kind, extractable);
    const pub = new Uint8Array(native.keyPublic(handle));
    return {
      publicKey: new CryptoKey("public", true, alg, only(usages, ["verify"]), { bytes: pub, kind: a.kind }),
      privateKey: new CryptoKey("private", extractable, alg, only(usages, ["sign"]), { handle, kind: a.kind }),
    };
  }
  function exportKeySync(format, key) {
    if (!(key instanceof CryptoKey)) throw new TypeError("crypto.subtle.exportKey: a CryptoKey expected");
    if (!key.extractable) {
      throw new DOMException("crypto.subtle.exportKey: the key is not extractable", "InvalidAccessError");
    }
    const d = keyData.get(key);
    if (format === "raw" && key.type !== "private") {
      return d.bytes ? d.bytes.slice(0).buffer : native.keyExport(d.handle);
    }
    if (format === "pkcs8" && key.type === "private") {
      const raw = new Uint8Array(native.keyExport(d.handle));
      if (d.kind !== kKinds.Ed25519) return raw.buffer;
      const out = new Uint8Array(48);
      out.set(kEd25519Pkcs8);
      out.set(raw, 16);
      return out.buffer;
    }
    throw notSupported(`exporting a ${key.type} key as '${format}'`);
  }
  function signSync(algorithm, key, data) {
    const d = usable(key, "sign");
    const name = algName(algorithm).toUpperCase();
    if (name !== key.algorithm.name.toUpperCase()) {
      throw new DOMException(`crypto.subtle.sign: a ${key.algorithm.name} key for ${algName(algorithm)}`, "InvalidAccessError");
    }
    if (name === "HMAC") return native.hmac(kDigests[key.algorithm.hash.name], d.bytes, dataOf(data, "data"));
    if (name === "ECDSA" && hashName(algorithm.hash) !== "SHA-256") {
      throw notSupported(`ECDSA with ${algName(algorithm.hash)} (SHA-256)`);
    }
    return native.sign(d.handle, dataOf(data, "data"));
  }
  function verifySync(algorithm, key, signature, data) {
    const d = usable(key, "verify");
    const name = algName(algorithm).toUpperCase();
    if (name !== key.algorithm.name.toUpperCase()) {
      throw new DOMException(`crypto.subtle.verify: a ${key.algorithm.name} key for ${algName(algorithm)}`, "InvalidAccessError");
    }
    const sig = dataOf(signature, "signature");
    if (name === "HMAC") {
      const mac = native.hmac(kDigests[key.algorithm.hash.name], d.bytes, dataOf(data, "data"));
      return native.equal(mac, sig);
    }
    if (name === "ECDSA" && hashName(algorithm.hash) !== "SHA-256") {
      throw notSupported(`ECDSA with ${algName(algorithm.hash)} (SHA-256)`);
    }
    return native.verify(d.kind, d.bytes, dataOf(data, "data"), sig);
  }
  // AES-GCM, and ChaCha20-Poly1305 (the extension) in the same shape.
  function aeadParams(algorithm, key, use) {
    const d = usable(key, use);
    const upper = algName(algorithm).toUpperCase();
    const name = upper === "AES-GCM" ? "AES-GCM" : upper === kChaCha.toUpperCase() ? kChaCha : null;
    if (name === null) throw notSupported(`${use} with '${algName(algorithm)}' (AES-GCM, ${kChaCha})`);
    if (key.algorithm.name !== name) {
      throw new DOMException(`crypto.subtle.${use}: the key is for ${key.algorithm.name}, not ${name}`, "InvalidAccessError");
    }
    const iv = bufferSource(algorithm.iv, "iv");
    if (iv.length !== 12) throw notSupported(`${name === "AES-GCM" ? "an" : "a"} ${name} iv of ${iv.length} bytes (12)`);
    if (algorithm.tagLength !== undefined && Number(algorithm.tagLength) !== 128) {
      throw notSupported(`${name === "AES-GCM" ? "an" : "a"} ${name} tag of ${algorithm.tagLength} bits (128)`);
    }
    const aad = algorithm.additionalData === undefined ? new Uint8Array(0)
                                                       : bufferSource(algorithm.additionalData, "additionalData");
    return [d.handle, iv, aad];
  }
  function encryptSync(algorithm, key, data) {
    const [h, iv, aad] = aeadParams(algorithm, key, "encrypt");
    return native.seal(h, iv, aad, dataOf(data, "data"));
  }
  function decryptSync(algorithm, key, data) {
    const [h, iv, aad] = aeadParams(algorithm, key, "decrypt");
    const sealed = dataOf(data, "data");
    const n = typeof sealed === "string" ? encodeUtf8(sealed).length : sealed.byteLength;
    if (n < 16) throw new DOMException(`crypto.subtle.decrypt: ${n} bytes, shorter than the 16-byte tag`, "OperationError");
    const plain = native.open(h, iv, aad, sealed);
    if (plain === null) throw new DOMException("crypto.subtle.decrypt: the data does not authenticate", "OperationError");
    return plain;
  }
  // HKDF (RFC 5869) on the host's crypto_hkdf: `length` bits, a multiple
  // of 8, at most 255 hash lengths; `info` at most 1024 bytes (the host's).
  function hkdfBits(algorithm, key, length, use) {
    const d = usable(key, use);
    if (algName(algorithm).toUpperCase() !== "HKDF") throw notSupported(`${use} with '${algName(algorithm)}' (HKDF)`);
    if (key.algorithm.name !== "HKDF") {
      throw new DOMException(`crypto.subtle.${use}: the key is for ${key.algorithm.name}, not HKDF`, "InvalidAccessError");
    }
    const hash = hashName(algorithm.hash);
    const salt = bufferSource(algorithm.salt, "salt");
    const info = bufferSource(algorithm.info, "info");
    const bits = length === null || length === undefined ? NaN : Number(length);
    const max = 255 * kHashBytes[hash] * 8;
    if (!(Number.isInteger(bits) && bits >= 0 && bits % 8 === 0 && bits <= max)) {
      throw new DOMException(`crypto.subtle.${use}: HKDF-${hash} derives a multiple of 8 bits up to ${max}, not ${length}`,
                             "OperationError");
    }
    if (info.length > 1024) throw notSupported(`an HKDF info of ${info.length} bytes (at most 1024)`);
    if (bits === 0) return new ArrayBuffer(0);
    // An empty salt is RFC 5869's default, HashLen zero bytes (the same
    // HMAC key): the host's OpenSSL refuses an empty one.
    const salted = salt.length > 0 ? salt : new Uint8Array(kHashBytes[hash]);
    return native.hkdf(kDigests[hash], d.bytes, salted, info, bits / 8);
  }
  const deriveBitsSync = (algorithm, key, length) => hkdfBits(algorithm, key, length, "deriveBits");
  // deriveKey: the bits of the derived key's length, imported as raw.
  function deriveKeySync(algorithm, key, derivedKeyType, extractable, usages) {
    const name = algName(derivedKeyType).toUpperCase();
    let bits;
    if (name === "HMAC") {
      const hash = hashName(derivedKeyType.hash);
      bits = derivedKeyType.length === undefined ? kBlockBytes[hash] * 8 : Number(derivedKeyType.length);
      if (!(bits > 0 && bits % 8 === 0 && bits <= 8 * 1024)) throw notSupported(`an HMAC key of ${bits} bits`);
    } else if (name === "AES-GCM") {
      bits = Number(derivedKeyType.length);
      if (bits !== 128 && bits !== 256) throw notSupported(`an AES key of ${derivedKeyType.length} bits (128, 256)`);
    } else if (name === kChaCha.toUpperCase()) {
      bits = 256;
    } else {
      throw notSupported(`deriving a key for '${algName(derivedKeyType)}' (HMAC, AES-GCM, ${kChaCha})`);
    }
    const raw = hkdfBits(algorithm, key, bits, "deriveKey");
    return importKeySync("raw", raw, derivedKeyType, extractable, usages);
  }

  // The Web's shape: the work is done now (the host call suspends this
  // process only) and handed over as a promise.
  const promised = (fn) => (...args) => {
    try {
      return Promise.resolve(fn(...args));
    } catch (e) {
      return Promise.reject(e);
    }
  };
  function randomUUID() {
    const b = native.randomFill(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  const unsupported = (what) => () => Promise.reject(notSupported(what));
  const subtle = Object.freeze({
    importKey: promised(importKeySync),
    generateKey: promised(generateKeySync),
    exportKey: promised(exportKeySync),
    sign: promised(signSync),
    verify: promised(verifySync),
    encrypt: promised(encryptSync),
    decrypt: promised(decryptSync),
    deriveKey: promised(deriveKeySync),
    deriveBits: promised(deriveBitsSync),
    wrapKey: unsupported("wrapKey"),
    unwrapKey: unsupported("unwrapKey"),
  });

  return { DOMException, CryptoKey, subtle, randomUUID };
})
