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

  // The platform beyond what every process uses lives in platform.js (the
  // key-value store, supervisors) and crypto.js (Web Crypto's keys and
  // randomUUID), each compiled and evaluated the first time this
  // process uses it: a spawn evaluates this file, and would otherwise pay
  // for code most processes never run.
  const parts = [null, null];
  function part(i) {
    if (parts[i] === null) parts[i] = native.loadPlatform(i)(native, { payload, encodeUtf8, decodeUtf8 });
    return parts[i];
  }
  const platform = () => part(0);
  const webCrypto = () => part(1);
  // Outbound HTTP(S) (docs/fetch.md): the response's classes are platform.js's.
  const fetchSync = (url, init) => platform().fetch(url, init);
  const fetch = (url, init) => platform().webFetch(url, init);
  // Web Crypto (cap crypto; docs/crypto.md): getRandomValues and digest
  // here; the rest of crypto.subtle and randomUUID load crypto.js. BLAKE2b-512
  // and BLAKE2s-256 are rusm extensions (the host's hashes 4 and 5).
  const kDigests = { "SHA-256": 1, "SHA-384": 2, "SHA-512": 3, "BLAKE2B-512": 4, "BLAKE2S-256": 5 };
  const subtle = {
    digest(algorithm, data) {
      const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
      const alg = kDigests[String(name).toUpperCase()];
      if (alg === undefined) {
        return Promise.reject(new TypeError(
            `crypto.subtle.digest: not supported yet: '${name}' (SHA-256, SHA-384, SHA-512, BLAKE2b-512, BLAKE2s-256)`));
      }
      try {
        return Promise.resolve(native.digest(alg, payload(data)));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
  for (const name of ["importKey", "generateKey", "exportKey", "sign", "verify", "encrypt", "decrypt",
                      "deriveKey", "deriveBits", "wrapKey", "unwrapKey"]) {
    subtle[name] = (...args) => webCrypto().subtle[name](...args);
  }
  const crypto = Object.freeze({
    getRandomValues: (array) => native.randomFill(array),
    randomUUID: () => webCrypto().randomUUID(),
    subtle: Object.freeze(subtle),
  });
  const kv = Object.freeze({
    open(bucket) { return new (platform().Bucket)(String(bucket), native.kvOpen(String(bucket))); },
  });
  const supervisor = Object.freeze({ start: (spec) => platform().startSupervisor(spec) });

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
    // The cluster (docs/js.md, "Cluster"): shaped in rusm_js.c rather
    // than here, since every JS process holds this file's text and code.
    spawnOn: native.spawnOn,
    node: native.node,
    nodes: native.nodes,
    nodeName: native.nodeName,
    monitorNode: native.monitorNode,
    registerGlobal: native.registerGlobal,
    unregisterGlobal: native.unregisterGlobal,
    whereisGlobal: native.whereisGlobal,
    sendGlobal(name, tag, data) { return native.sendGlobal(name, tag, payload(data)); },
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
                               ["TextEncoder", TextEncoder], ["TextDecoder", TextDecoder],
                               ["setTimeout", setTimeout], ["clearTimeout", clearTimeout],
                               ["setInterval", setInterval], ["clearInterval", clearInterval],
                               ["queueMicrotask", queueMicrotask]]) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
  for (const name of ["CryptoKey", "DOMException"]) {
    Object.defineProperty(globalThis, name, {
      get: () => webCrypto()[name],
      set(value) { Object.defineProperty(globalThis, name, { value, writable: true, configurable: true }); },
      configurable: true,
    });
  }
  return rusm;
})
