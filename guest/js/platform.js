// The platform's JS side (docs/js.md "Platform"): the key-value store's
// Bucket, supervisors and fetch's Response (its body read as it arrives),
// on the native calls of platform.c and rusm_js.c; crypto.js has
// Web Crypto. Not part of prelude.js, which every process evaluates at each
// spawn: each file is compiled from its embedded source (written out of
// code, cmake/RusmQuickJS.cmake) the first time a process uses what it
// defines (prelude.js's platform() and webCrypto()), so that a process that
// never does pays nothing for it. `lib` is what it needs of prelude.js.
(function (native, lib) {
  "use strict";

  const { payload, decodeUtf8 } = lib;

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

  // ---- outbound HTTP(S) (docs/fetch.md): the process waits (not the thread)
  // for the response's head; its body is read from the host when asked for,
  // whole (text, json, bytes, arrayBuffer) or chunk by chunk (response.body).
  // Headers: an object, a Map or [name, value] pairs.
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
  // A response's body as it arrives, in ReadableStream's shape: getReader()
  // (read() -> a promise of {value: Uint8Array, done}), `for await`, and,
  // as a rusm extension for synchronous code, `for (const chunk of body)`.
  // Each chunk is one host read (at most 256 KiB). The exchange is closed at
  // the end, on an error, by cancel(), or when the response is collected.
  class ResponseBody {
    constructor(exchange) {
      this._exchange = exchange;
      this._reader = null;
      this._disturbed = false; // a chunk was read (or the body cancelled)
      this._whole = false; // read whole by text(), json(), bytes() or arrayBuffer()
    }
    get locked() { return this._reader !== null; }
    getReader() {
      if (this._reader !== null) throw new TypeError("ReadableStream.getReader: the body is locked to a reader");
      if (this._whole) throw new TypeError("ReadableStream.getReader: the body was already read whole");
      return (this._reader = new BodyReader(this));
    }
    cancel() {
      if (this._reader !== null) {
        return Promise.reject(new TypeError("ReadableStream.cancel: the body is locked to a reader"));
      }
      this._disturbed = true;
      this._close();
      return Promise.resolve();
    }
    [Symbol.asyncIterator]() {
      const reader = this.getReader();
      return {
        next: () => reader.read().then((r) => {
          if (r.done) reader.releaseLock();
          return r;
        }),
        return: (value) => {
          reader.cancel();
          reader.releaseLock();
          return Promise.resolve({ value, done: true });
        },
        [Symbol.asyncIterator]() { return this; },
      };
    }
    *[Symbol.iterator]() {
      const reader = this.getReader();
      try {
        for (let chunk; (chunk = reader._next()) !== null;) yield chunk;
      } finally {
        reader.cancel();
        reader.releaseLock();
      }
    }
    // The next chunk, or null at the end.
    _next() {
      this._disturbed = true;
      if (this._exchange === null) return null;
      let ab;
      try {
        ab = native.fetchRead(this._exchange, false);
      } catch (e) {
        this._close();
        throw e;
      }
      if (ab === null) {
        this._close();
        return null;
      }
      return new Uint8Array(ab);
    }
    // The whole body, for Response's readers.
    _all(what) {
      if (this._reader !== null) throw new TypeError(`Response.${what}: the body is locked to a reader`);
      if (this._disturbed) throw new TypeError(`Response.${what}: the body was already read through response.body`);
      this._whole = true;
      if (this._exchange === null) return new ArrayBuffer(0);
      try {
        return native.fetchRead(this._exchange, true);
      } finally {
        this._close();
      }
    }
    _close() {
      if (this._exchange !== null) {
        native.fetchClose(this._exchange);
        this._exchange = null;
      }
    }
  }
  class BodyReader {
    constructor(body) { this._body = body; }
    // A promise of {value: Uint8Array, done: false}, then {value: undefined, done: true}.
    read() {
      try {
        const chunk = this._next();
        return Promise.resolve(chunk === null ? { value: undefined, done: true } : { value: chunk, done: false });
      } catch (e) {
        return Promise.reject(e);
      }
    }
    cancel() {
      if (this._body !== null) {
        this._body._disturbed = true;
        this._body._close();
      }
      return Promise.resolve();
    }
    releaseLock() {
      if (this._body !== null) this._body._reader = null;
      this._body = null;
    }
    _next() {
      if (this._body === null) throw new TypeError("ReadableStreamDefaultReader.read: the reader was released");
      return this._body._next();
    }
  }
  class Response {
    constructor(raw) {
      this.status = raw.status;
      this.ok = raw.status >= 200 && raw.status < 300;
      this.headers = new Headers(raw.headers);
      this.body = new ResponseBody(raw.body);
      this._bytes = null;
    }
    get bodyUsed() { return this.body._disturbed || this.body._whole; }
    // The whole body, read once: the readers below share it. Once
    // response.body was read from or is locked to a reader, a TypeError (as
    // on the Web).
    _read(what) {
      if (this._bytes === null) this._bytes = new Uint8Array(this.body._all(what));
      return this._bytes;
    }
    text() { return decodeUtf8(this._read("text")); }
    json() { return JSON.parse(decodeUtf8(this._read("json"))); }
    bytes() { return this._read("bytes"); }
    arrayBuffer() { return this._read("arrayBuffer").buffer; }
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
  const promised = (f) => {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(e);
    }
  };
  class WebResponse extends Response {
    text() { return promised(() => super.text()); }
    json() { return promised(() => super.json()); }
    arrayBuffer() { return promised(() => super.arrayBuffer()); }
  }
  function webFetch(url, init) {
    return promised(() => Object.setPrototypeOf(fetchSync(url, init), WebResponse.prototype));
  }

  return { Bucket, startSupervisor, fetch: fetchSync, webFetch };
})
