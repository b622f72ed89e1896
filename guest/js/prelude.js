// The JavaScript side of rusm's JS API (docs/js.md), evaluated in every JS
// process before the app. The C host layer (rusm_js.c) hands it `native`,
// the raw calls; this file shapes them into the global `rusm` object, the
// `rusm` module's exports, `console`, TextEncoder and TextDecoder, and the
// timers (setTimeout, setInterval, queueMicrotask).
// `native` is reachable from nothing else once this function returns.
(function (native) {
  "use strict";

  const encodeUtf8 = native.utf8Encode; // string -> ArrayBuffer
  const decodeUtf8 = native.utf8Decode; // ArrayBuffer|view -> string

  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(s = "") { return new Uint8Array(encodeUtf8(String(s))); }
  }
  class TextDecoder {
    constructor(label = "utf-8") {
      const l = String(label).toLowerCase();
      if (l !== "utf-8" && l !== "utf8") {
        throw new RangeError(`TextDecoder: not supported yet: '${label}' (only utf-8)`);
      }
    }
    get encoding() { return "utf-8"; }
    decode(bytes) {
      if (bytes === undefined) return "";
      return decodeUtf8(bytes);
    }
  }

  // A received message. `data` is a Uint8Array of the payload.
  class Message {
    text() { return this.data ? decodeUtf8(this.data) : ""; }
    json() { return JSON.parse(this.text()); }
  }

  // What send() puts on the wire: strings as UTF-8, bytes as they are,
  // anything else as JSON (read it back with message.json()).
  function payload(data) {
    if (data === undefined || data === null) return "";
    if (typeof data === "string") return data;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data;
    return JSON.stringify(data);
  }

  function toMessage(raw) {
    if (raw === null) return null;
    const m = Object.setPrototypeOf(raw, Message.prototype);
    if (m.data !== undefined) m.data = new Uint8Array(m.data);
    return m;
  }

  // Timers. A JS process runs one task at a time (the top level, then
  // main() or the spawned function) and blocks in rusm.receive/sleep, so
  // timers fire only when the task is over: rusm_js.c then calls
  // native.runTimer() until it returns false, draining promise jobs after
  // each. Without the clock capability the process cannot read the time,
  // so timers run on a virtual clock that rusm.sleep() and the waits for
  // timers advance: a timer fires no earlier than asked, possibly later
  // (the task's own time is not counted), which is what JS promises.
  const timers = new Map(); // id -> {due, fn, args, every}
  let now = 0;
  let nextTimer = 1;
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn !== "function") throw new TypeError("a timer's callback must be a function");
    const delay = Math.max(0, Number(ms) || 0);
    const id = nextTimer++;
    timers.set(id, { due: now + delay, fn, args, every: repeat ? Math.max(1, delay) : 0 });
    return id;
  }
  const setTimeout = (fn, ms, ...args) => addTimer(fn, ms, args, false);
  const setInterval = (fn, ms, ...args) => addTimer(fn, ms, args, true);
  const clearTimeout = (id) => { timers.delete(id); };
  const clearInterval = clearTimeout;
  const queueMicrotask = (fn) => { Promise.resolve().then(fn); };
  native.runTimer = () => {
    let id = 0, t = null;
    for (const [i, x] of timers) {
      if (t === null || x.due < t.due) { id = i; t = x; }
    }
    if (t === null) return false;
    if (t.due > now) {
      native.sleep(t.due - now);
      now = t.due;
    }
    if (t.every) t.due = now + t.every; else timers.delete(id);
    t.fn(...t.args);
    return true;
  };
  const sleep = (ms) => {
    native.sleep(ms);
    if (ms > 0) now += Number(ms);
  };

  // Outbound HTTP(S) (docs/fetch.md): the process waits (not the thread)
  // for the whole response. Headers: an object, a Map or [name, value] pairs.
  class Headers {
    constructor(text) {
      this._map = new Map();
      for (const line of text.split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        const had = this._map.get(name);
        this._map.set(name, had === undefined ? value : had + ", " + value);
      }
    }
    get(name) {
      const v = this._map.get(String(name).toLowerCase());
      return v === undefined ? null : v;
    }
    has(name) { return this._map.has(String(name).toLowerCase()); }
    forEach(fn) { this._map.forEach((v, k) => fn(v, k, this)); }
    [Symbol.iterator]() { return this._map.entries(); }
  }
  class Response {
    constructor(raw) {
      this.status = raw.status;
      this.ok = raw.status >= 200 && raw.status < 300;
      this.headers = new Headers(raw.headers);
      this._body = new Uint8Array(raw.body);
    }
    text() { return decodeUtf8(this._body); }
    json() { return JSON.parse(this.text()); }
    bytes() { return this._body; }
    arrayBuffer() { return this._body.buffer; }
  }
  function fetchSync(url, init = {}) {
    let headers = "";
    const h = init.headers || {};
    const pairs = h instanceof Map || Array.isArray(h) ? h : Object.entries(h);
    for (const [k, v] of pairs) headers += `${k}: ${v}\r\n`;
    const body = init.body === undefined || init.body === null ? "" : payload(init.body);
    return new Response(native.fetch(String(url), init.method ? String(init.method) : "",
                                     headers, body, Number(init.timeout || 0),
                                     Number(init.maxResponse || 0)));
  }
  // The Web's shape: a promise of a response whose readers are promises.
  class WebResponse extends Response {
    text() { return Promise.resolve(super.text()); }
    json() { return Promise.resolve(super.text()).then(JSON.parse); }
    arrayBuffer() { return Promise.resolve(super.arrayBuffer()); }
  }
  function fetch(url, init) {
    try {
      return Promise.resolve(Object.setPrototypeOf(fetchSync(url, init), WebResponse.prototype));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // Web Crypto (cap crypto; docs/crypto.md, docs/js.md "Web Crypto"): digest,
  // getRandomValues and randomUUID, and in crypto.subtle HMAC, AES-GCM,
  // Ed25519 and ECDSA P-256 keys on the host's calls. Secret bytes of HMAC
  // keys and public keys live in this closure (keyData); AES, Ed25519 and
  // ECDSA private keys stay in the host (a handle object whose collection
  // drops the handle). Every subtle call returns a promise, as on the Web.
  class DOMException extends Error {
    constructor(message = "", name = "Error") {
      super(message);
      Object.defineProperty(this, "name", { value: name, writable: true, configurable: true });
    }
  }
  const notSupported = (what) => new DOMException(`crypto.subtle: not supported yet: ${what}`,
                                                  "NotSupportedError");
  const kDigests = { "SHA-256": 1, "SHA-384": 2, "SHA-512": 3 };
  const kBlockBytes = { "SHA-256": 64, "SHA-384": 128, "SHA-512": 128 };
  const kKinds = { "AES-128-GCM": 1, "AES-256-GCM": 2, "Ed25519": 4, "ECDSA-P-256": 5 };
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
    throw notSupported(`the algorithm '${name}' for ${type} (HMAC, AES-GCM, Ed25519, ECDSA P-256)`);
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
  function gcmParams(algorithm, key, use) {
    const d = usable(key, use);
    if (algName(algorithm).toUpperCase() !== "AES-GCM" || key.algorithm.name !== "AES-GCM") {
      throw notSupported(`${use} with '${algName(algorithm)}' (AES-GCM)`);
    }
    const iv = bufferSource(algorithm.iv, "iv");
    if (iv.length !== 12) throw notSupported(`an AES-GCM iv of ${iv.length} bytes (12)`);
    if (algorithm.tagLength !== undefined && Number(algorithm.tagLength) !== 128) {
      throw notSupported(`an AES-GCM tag of ${algorithm.tagLength} bits (128)`);
    }
    const aad = algorithm.additionalData === undefined ? new Uint8Array(0)
                                                       : bufferSource(algorithm.additionalData, "additionalData");
    return [d.handle, iv, aad];
  }
  function encryptSync(algorithm, key, data) {
    const [h, iv, aad] = gcmParams(algorithm, key, "encrypt");
    return native.seal(h, iv, aad, dataOf(data, "data"));
  }
  function decryptSync(algorithm, key, data) {
    const [h, iv, aad] = gcmParams(algorithm, key, "decrypt");
    const plain = native.open(h, iv, aad, dataOf(data, "data"));
    if (plain === null) throw new DOMException("crypto.subtle.decrypt: the data does not authenticate", "OperationError");
    return plain;
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
  const crypto = Object.freeze({
    getRandomValues: (array) => native.randomFill(array),
    randomUUID,
    subtle: Object.freeze({
      digest(algorithm, data) {
        const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
        const alg = kDigests[String(name).toUpperCase()];
        if (alg === undefined) {
          return Promise.reject(new TypeError(
              `crypto.subtle.digest: not supported yet: '${name}' (SHA-256, SHA-384, SHA-512)`));
        }
        try {
          return Promise.resolve(native.digest(alg, payload(data)));
        } catch (e) {
          return Promise.reject(e);
        }
      },
      importKey: promised(importKeySync),
      generateKey: promised(generateKeySync),
      exportKey: promised(exportKeySync),
      sign: promised(signSync),
      verify: promised(verifySync),
      encrypt: promised(encryptSync),
      decrypt: promised(decryptSync),
      deriveKey: unsupported("deriveKey"),
      deriveBits: unsupported("deriveBits"),
      wrapKey: unsupported("wrapKey"),
      unwrapKey: unsupported("unwrapKey"),
    }),
  });

  // ---- the key-value store (docs/kv.md; cap kv with the bucket granted).
  // Keys: strings (UTF-8) or bytes. Values: strings (UTF-8), bytes, or
  // anything else as JSON; read back as bytes (get), text (getText) or JSON
  // (getJSON). Every call waits (this process only) for the commit.
  function kvKey(key) {
    if (typeof key === "string" || key instanceof ArrayBuffer || ArrayBuffer.isView(key)) return key;
    throw new TypeError("rusm.kv: a key is a string or bytes");
  }
  function kvValue(value) {
    if (value === undefined) throw new TypeError("rusm.kv: a value is required (null means none only in cas)");
    return payload(value);
  }
  class KvEntry {
    constructor(key, value) {
      this.keyBytes = new Uint8Array(key);
      this.key = decodeUtf8(this.keyBytes);
      if (value !== undefined) this.value = new Uint8Array(value);
    }
    text() { return this.value === undefined ? null : decodeUtf8(this.value); }
    json() { return this.value === undefined ? null : JSON.parse(this.text()); }
  }
  const kBatchKinds = { put: 1, delete: 2, check: 3, checkAbsent: 4 };
  const bucketHandle = new WeakMap();
  const handleOf = (b) => {
    const h = bucketHandle.get(b);
    if (h === undefined) throw new TypeError("rusm.kv: the bucket is closed");
    return h;
  };
  class Bucket {
    constructor(name, h) {
      this.name = name;
      bucketHandle.set(this, h);
      Object.freeze(this);
    }
    get(key) {
      const v = native.kvGet(handleOf(this), kvKey(key));
      return v === null ? null : new Uint8Array(v);
    }
    getText(key) {
      const v = native.kvGet(handleOf(this), kvKey(key));
      return v === null ? null : decodeUtf8(v);
    }
    getJSON(key) {
      const t = this.getText(key);
      return t === null ? null : JSON.parse(t);
    }
    put(key, value) { native.kvPut(handleOf(this), kvKey(key), kvValue(value)); }
    delete(key) { return native.kvDelete(handleOf(this), kvKey(key)); }
    // Writes `value` only if the key holds `expected` (null: only if it is
    // absent); value null deletes. true if it did, false on a conflict.
    cas(key, expected, value) {
      return native.kvCas(handleOf(this), kvKey(key), expected === null ? null : kvValue(expected),
                          value === null ? null : kvValue(value));
    }
    incr(key, delta = 1) { return native.kvIncr(handleOf(this), kvKey(key), Number(delta)); }
    // One page of the keys with `prefix` after `after` (a key or a previous
    // page's `next`), in byte order: {entries, next}; next is null when no
    // key is left (it may be set when the last page was exactly full).
    list(prefix = "", opts = {}) {
      const h = handleOf(this);
      const limit = opts.limit === undefined ? 1000 : Number(opts.limit);
      if (!(limit >= 1 && limit <= 100000 && Number.isInteger(limit))) {
        throw new RangeError("rusm.kv.list: limit is an integer in [1, 100000]");
      }
      const values = opts.values !== false;
      let after = opts.after === undefined || opts.after === null ? "" : kvKey(opts.after);
      const entries = [];
      while (entries.length < limit) {
        const page = native.kvList(h, kvKey(prefix), after, values);
        if (page.length === 0) return { entries, next: null };
        for (const [k, v] of page) {
          if (entries.length === limit) break;
          entries.push(new KvEntry(k, v));
        }
        after = entries[entries.length - 1].keyBytes;
      }
      return { entries, next: entries[entries.length - 1].keyBytes };
    }
    // Every entry with `prefix`, page by page.
    *entries(prefix = "", opts = {}) {
      let after = opts.after;
      for (;;) {
        const page = this.list(prefix, { after, values: opts.values, limit: 1000 });
        yield* page.entries;
        if (page.next === null) return;
        after = page.next;
      }
    }
    // Runs the steps ({op: "put", key, value}, {op: "delete", key},
    // {op: "check", key, value}, {op: "checkAbsent", key}) atomically: the
    // checks, then the writes. A failed check writes nothing and throws an
    // Error with code "ECONFLICT" and `index`, the failed step's.
    batch(ops) {
      if (!Array.isArray(ops)) throw new TypeError("rusm.kv.batch: an array of steps expected");
      const steps = ops.map((s, i) => {
        const kind = s && kBatchKinds[s.op];
        if (kind === undefined) {
          throw new TypeError(`rusm.kv.batch: step ${i}: op is put, delete, check or checkAbsent`);
        }
        return kind === 1 || kind === 3 ? [kind, kvKey(s.key), kvValue(s.value)] : [kind, kvKey(s.key)];
      });
      const failed = native.kvBatch(handleOf(this), steps);
      if (failed >= 0) {
        const e = new Error(`rusm.kv.batch: ECONFLICT (step ${failed}, ${ops[failed].op} of ` +
                            `'${typeof ops[failed].key === "string" ? ops[failed].key : "bytes"}', failed; nothing written)`);
        e.code = "ECONFLICT";
        e.index = failed;
        throw e;
      }
      return true;
    }
    close() {
      const h = bucketHandle.get(this);
      if (h !== undefined) {
        bucketHandle.delete(this);
        native.kvClose(h);
      }
    }
  }
  const kv = Object.freeze({
    open(bucket) { return new Bucket(String(bucket), native.kvOpen(String(bucket))); },
  });

  // ---- supervisors (docs/js.md "Supervisors"): the host's supervisor over
  // JS children; platform.c explains the boot server each one comes with.
  const kStrategies = { one_for_one: 0, one_for_all: 1, rest_for_one: 2, simple_one_for_one: 3 };
  const kRestarts = { permanent: 0, transient: 1, temporary: 2 };
  class Supervisor {
    constructor(pid, server, strategy, templateArgs) {
      this.pid = pid;
      this.server = server;
      this.strategy = strategy;
      this._templateArgs = templateArgs;
      Object.freeze(this);
    }
    whichChildren(opts = {}) { return native.supWhichChildren(this.pid, opts.timeout); }
    terminateChild(pid, opts = {}) { return native.supTerminateChild(this.pid, pid, opts.timeout); }
    startChild(args = [], opts = {}) {
      if (this.strategy !== "simple_one_for_one") {
        throw new TypeError("rusm.supervisor: startChild is for a simple_one_for_one supervisor");
      }
      if (!Array.isArray(args)) throw new TypeError("rusm.supervisor.startChild: args must be an array");
      return native.supStartChild(this.pid, this.server,
                                  JSON.stringify(this._templateArgs.concat(args)), opts.timeout);
    }
  }
  function startSupervisor(spec = {}) {
    const strategy = spec.strategy === undefined ? "one_for_one" : String(spec.strategy);
    if (kStrategies[strategy] === undefined) {
      throw new TypeError(`rusm.supervisor.start: strategy is one of ${Object.keys(kStrategies).join(", ")}`);
    }
    const intensity = spec.intensity === undefined ? 3 : Number(spec.intensity);
    const period = spec.period === undefined ? 5000 : Number(spec.period);
    const children = spec.children || [];
    if (!Array.isArray(children)) throw new TypeError("rusm.supervisor.start: children must be an array");
    if (strategy === "simple_one_for_one" && children.length !== 1) {
      throw new TypeError("rusm.supervisor.start: simple_one_for_one takes exactly one child, the template");
    }
    const specs = children.map((ch, i) => {
      let fn = ch && ch.start;
      if (typeof fn === "function") fn = fn.name;
      if (typeof fn !== "string" || fn === "") {
        throw new TypeError(`rusm.supervisor.start: child ${i}: start is an exported function (or its name)`);
      }
      const args = ch.args === undefined ? [] : ch.args;
      if (!Array.isArray(args)) throw new TypeError(`rusm.supervisor.start: child ${i}: args must be an array`);
      const restart = ch.restart === undefined ? "permanent" : String(ch.restart);
      if (kRestarts[restart] === undefined) {
        throw new TypeError(`rusm.supervisor.start: child ${i}: restart is permanent, transient or temporary`);
      }
      const id = ch.id === undefined ? `${fn}.${i}` : String(ch.id);
      return [id, fn, JSON.stringify(args), kRestarts[restart],
              ch.shutdown === undefined ? 1000 : Number(ch.shutdown)];
    });
    const r = native.supStart(kStrategies[strategy], intensity, period, specs);
    const template = strategy === "simple_one_for_one" ? (children[0].args || []) : [];
    return new Supervisor(r.pid, r.server, strategy, template);
  }
  const supervisor = Object.freeze({ start: startSupervisor });

  const rusm = {
    fetch: fetchSync,
    self: native.self,
    parent: native.parent,
    isMain: native.isMain,
    argv: native.argv,
    script: native.script,

    send(to, tag, data) { return native.send(to, tag, payload(data)); },
    receive(opts = {}) {
      return toMessage(native.receive(opts.tag, opts.timeout));
    },
    spawn(fn, args = [], opts = {}) {
      if (typeof fn === "function") fn = fn.name;
      if (typeof fn !== "string" || fn === "") {
        throw new TypeError("rusm.spawn: the name of an exported function expected");
      }
      if (!Array.isArray(args)) throw new TypeError("rusm.spawn: args must be an array");
      const flags = (opts.link ? 1 : 0) | (opts.monitor ? 2 : 0) | (opts.trapExit ? 4 : 0);
      const r = native.spawn(fn, JSON.stringify(args), flags, opts.stdio !== false,
                             opts.label === undefined ? fn : String(opts.label));
      return opts.monitor ? r : r.pid;
    },
    spawnLink(fn, args = [], opts = {}) {
      return rusm.spawn(fn, args, Object.assign({}, opts, { link: true }));
    },
    spawnMonitor(fn, args = [], opts = {}) {
      return rusm.spawn(fn, args, Object.assign({}, opts, { monitor: true }));
    },
    link: native.link,
    unlink: native.unlink,
    monitor: native.monitor,
    demonitor: (ref, flush = false) => native.demonitor(ref, !!flush),
    trapExit: (on = true) => native.trapExit(!!on),
    exit(reason = "normal", detail = "") { native.exit(String(reason), String(detail)); },
    exitPid(pid, reason = "shutdown", detail = "") {
      return native.exitPid(pid, String(reason), String(detail));
    },
    kill: (pid) => native.exitPid(pid, "kill", ""),
    isAlive: native.isAlive,
    register: native.register,
    unregister: native.unregister,
    whereis: native.whereis,
    sleep,
    yield: native.yield,
    sendAfter(ms, to, tag, data) { return native.sendAfter(ms, to, tag, payload(data)); },
    cancelTimer: native.cancelTimer,
    setLabel: native.setLabel,
    kv,
    supervisor,
    // Topics (cap pubsub): a delivery is a message like any other, its tag
    // the topic's name unless publish was given another (opts.tag: a string
    // or an integer, e.g. for C subscribers), so rusm.receive({tag: topic})
    // takes a topic's deliveries selectively.
    subscribe: native.subscribe,
    unsubscribe: native.unsubscribe,
    publish(topic, data, opts = {}) {
      const t = String(topic);
      return native.publish(t, opts.tag === undefined ? t : opts.tag, payload(data));
    },
    // The host's view of a process (this one by default): {pid, status,
    // memory, mailbox, reductions, ...} with numbers as numbers; null if
    // it is gone. Another process's needs the proc capability.
    info(pid) {
      const text = native.info(pid);
      if (text === null) return null;
      const out = {};
      for (const line of text.split("\n")) {
        const eq = line.indexOf("=");
        if (eq <= 0) continue;
        const v = line.slice(eq + 1);
        out[line.slice(0, eq)] = /^[0-9]+$/.test(v) ? Number(v) : v;
      }
      return out;
    },
  };
  Object.freeze(rusm);

  function show(x, top) {
    if (typeof x === "string") return top ? x : JSON.stringify(x);
    if (x instanceof Error) return x.stack ? `${x.name}: ${x.message}\n${x.stack}`.trimEnd()
                                           : `${x.name}: ${x.message}`;
    if (typeof x === "function") return `[Function ${x.name || "(anonymous)"}]`;
    if (x === undefined || typeof x !== "object" || x === null) return String(x);
    if (x instanceof Uint8Array) return `Uint8Array(${x.length}) [ ${Array.from(x).join(", ")} ]`;
    try {
      const s = JSON.stringify(x);
      return s === undefined ? String(x) : s;
    } catch (e) {
      return String(x);
    }
  }
  function line(args) { return args.map((a) => show(a, true)).join(" ") + "\n"; }
  const console = {
    log: (...a) => native.write(1, line(a)),
    info: (...a) => native.write(1, line(a)),
    debug: (...a) => native.write(1, line(a)),
    warn: (...a) => native.write(2, line(a)),
    error: (...a) => native.write(2, line(a)),
  };

  for (const [name, value] of [["rusm", rusm], ["console", console], ["fetch", fetch], ["crypto", crypto],
                               ["CryptoKey", CryptoKey], ["DOMException", DOMException],
                               ["TextEncoder", TextEncoder], ["TextDecoder", TextDecoder],
                               ["setTimeout", setTimeout], ["clearTimeout", clearTimeout],
                               ["setInterval", setInterval], ["clearInterval", clearInterval],
                               ["queueMicrotask", queueMicrotask]]) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
  return rusm;
})
