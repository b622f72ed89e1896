// The JavaScript side of rusm's JS API (docs/js.md), evaluated in every JS
// process before the app. The C host layer (rusm_js.c) hands it `native`,
// the raw calls; this file shapes them into the global `rusm` object, the
// `rusm` module's exports, `console`, TextEncoder and TextDecoder.
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

  const rusm = {
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
    sleep: native.sleep,
    yield: native.yield,
    sendAfter(ms, to, tag, data) { return native.sendAfter(ms, to, tag, payload(data)); },
    cancelTimer: native.cancelTimer,
    setLabel: native.setLabel,
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

  for (const [name, value] of [["rusm", rusm], ["console", console],
                               ["TextEncoder", TextEncoder], ["TextDecoder", TextDecoder]]) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
  return rusm;
})
