// rusm for AssemblyScript guests: processes, messages, links, monitors, the
// registry, timers, supervisors, topics, the node's key-value store, hashes,
// and HTTP, SSE and WebSocket handlers, over the `rusm` guest ABI
// (docs/abi.md).
//
// The raw imports, error codes and struct layouts are in ./sys (generated
// from abi/rusm.toml by scripts/abi.py; `import * as sys from "rusm/sys"`);
// this file is the API on top.
//
// Errors. AssemblyScript cannot catch exceptions (a `throw` aborts), so
// errors are values:
//   - a call that only succeeds or fails returns an `i32`: OK (0) or a
//     negative error code (sys.E*; errorName() names it);
//   - a call that produces something returns a `Result<T>`: `.ok`, `.error`,
//     `.value`, and `.unwrap()`, which ends the process with the error's name
//     when it failed ("let it crash": links, monitors and supervisors see it).
// A process ends with an error when it aborts (a failed assert, a throw, an
// out-of-bounds access in std): __rusm_abort below turns the abort into
// rusm.exit(error, "abort: MESSAGE at FILE:LINE:COL"), so no env.abort import
// is needed (the build passes --use abort=~lib/rusm/assembly/index/__rusm_abort).
//
// Processes run exported functions of the module (`export function worker`
// in the entry file); spawn names them. Modules are built with
// --exportStart _initialize: rusm calls _initialize (globals) in every new
// instance, then the entry function, so top-level statements of the entry
// file run in every process: keep them free of side effects and put the
// program in `export function _start(): void`.
import * as sys from "./sys";

/** A process, on this node or another: the node's 64-bit pid (0: none). */
export type Pid = u64;

// ---- constants that guest/c/rusm.h defines by hand ------------------------

/** Tags of the runtime's system messages. */
export const TAG_EXIT: u64 = 0xffffffffffffff01; // a trapped exit signal (trapExit)
export const TAG_DOWN: u64 = 0xffffffffffffff02; // a monitored process ended
export const TAG_NODE_UP: u64 = 0xffffffffffffff03;
export const TAG_NODE_DOWN: u64 = 0xffffffffffffff04;
export const TAG_SUPERVISOR_REPLY: u64 = 0xffffffffffffff17; // a late supervisor answer: skip it
export const TAG_SPAWN_REPLY: u64 = 0xffffffffffffff18;
export const TAG_WS_TEXT: u64 = 0xffffffffffffff20;
export const TAG_WS_BINARY: u64 = 0xffffffffffffff21;
export const TAG_WS_CLOSE: u64 = 0xffffffffffffff22;
/** Tags at or above this cannot be sent (EBADARG). */
export const TAG_RESERVED: u64 = 0xffffffffffffff00;

/** Exit reason kinds in EXIT and DOWN messages. */
export const REASON_NORMAL: u32 = 0;
export const REASON_SHUTDOWN: u32 = 1;
export const REASON_KILLED: u32 = 2;
export const REASON_NOPROC: u32 = 4;
export const REASON_ERROR: u32 = 5;
export const REASON_NOCONNECTION: u32 = 6;

/** Capabilities (SpawnOptions.caps, ChildSpec.caps). */
export const CAP_STDIO: u32 = 1 << 0;
export const CAP_ENV: u32 = 1 << 1;
export const CAP_FS: u32 = 1 << 2;
export const CAP_CLOCK: u32 = 1 << 3;
export const CAP_RANDOM: u32 = 1 << 4;
export const CAP_SPAWN: u32 = 1 << 5;
export const CAP_PROC: u32 = 1 << 6;
export const CAP_REGISTRY: u32 = 1 << 7;
export const CAP_CRYPTO: u32 = 1 << 8;
export const CAP_PUBSUB: u32 = 1 << 9;
export const CAP_KV: u32 = 1 << 10;

const SPAWN_LINK: u32 = 1;
const SPAWN_MONITOR: u32 = 2;
const SPAWN_TRAP_EXIT: u32 = 4;
const SPAWN_CAPS: u32 = 8;

const EXIT_NORMAL: i32 = 0;
const EXIT_SHUTDOWN: i32 = 1;
const EXIT_ERROR: i32 = 2;
const EXIT_KILL: i32 = 3;

/** Supervisor strategies and child restart policies (docs/abi.md). */
export const ONE_FOR_ONE: u32 = 0;
export const ONE_FOR_ALL: u32 = 1;
export const REST_FOR_ONE: u32 = 2;
export const SIMPLE_ONE_FOR_ONE: u32 = 3;
export const PERMANENT: u32 = 0;
export const TRANSIENT: u32 = 1;
export const TEMPORARY: u32 = 2;

// ---- errors ------------------------------------------------------------------

/** The name of an error code ("ETIMEOUT", ...; "OK" for 0). */
export function errorName(code: i32): string {
  const name = sys.error_name(code);
  return name.length > 0 ? name : "E" + code.toString();
}

/** The outcome of a call that produces a value: the value, or an error code. */
export class Result<T> {
  constructor(
    /** OK (0) or a negative error code (sys.E*). */
    public readonly error: i32,
    private readonly _value: T,
  ) {}

  get ok(): bool {
    return this.error == sys.OK;
  }

  /** The value; only meaningful when ok. */
  get value(): T {
    return this._value;
  }

  /** The value, or ends this process with an error naming `what` and the code. */
  expect(what: string): T {
    if (this.error != sys.OK) exitError(what + ": " + errorName(this.error));
    return this._value;
  }

  /** The value, or ends this process with the error's name. */
  unwrap(): T {
    return this.expect("unwrap");
  }
}

function ok<T>(value: T): Result<T> {
  return new Result<T>(sys.OK, value);
}

function err<T>(code: i32): Result<T> {
  return new Result<T>(code, isReference<T>() ? changetype<T>(0) : <T>0);
}

/** Ends this process with an error naming `what` unless `code` is OK. */
export function check(code: i32, what: string): void {
  if (code < 0) exitError(what + ": " + errorName(code));
}

// ---- bytes -------------------------------------------------------------------

/** Data given to send, the store, ...: a string (sent as UTF-8), a Uint8Array
 * or an ArrayBuffer. Any other type is a compile-time error. */
// @ts-ignore: decorator
@inline
function bytesOf<T>(data: T): Uint8Array {
  if (isString<T>()) {
    return Uint8Array.wrap(String.UTF8.encode(changetype<string>(data)));
  } else if (idof<T>() == idof<Uint8Array>()) {
    return changetype<Uint8Array>(data);
  } else if (idof<T>() == idof<ArrayBuffer>()) {
    return Uint8Array.wrap(changetype<ArrayBuffer>(data));
  } else {
    ERROR("rusm: data must be a string, a Uint8Array or an ArrayBuffer");
  }
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function textOf(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.byteLength);
}

function nanos(ms: i64): i64 {
  if (ms < 0) return -1;
  if (ms > i64.MAX_VALUE / 1_000_000) return i64.MAX_VALUE;
  return ms * 1_000_000;
}

// ---- the process -------------------------------------------------------------

export function abiVersion(): i32 {
  return sys.abi_version();
}

/** This process's pid. */
export function self(): Pid {
  return sys.self();
}

/** The pid of the process that spawned this one; 0 if the host did. */
export function parent(): Pid {
  return sys.parent();
}

export function isAlive(pid: Pid): bool {
  return sys.is_alive(pid) > 0;
}

/** Free text shown in process info and the dashboard. */
export function setLabel(label: string): i32 {
  const b = utf8(label);
  return sys.set_label(changetype<usize>(b), b.byteLength);
}

/** `key=value` lines about a process (docs/abi.md, process_info). */
export function processInfo(pid: Pid): Result<string> {
  let cap = 512;
  let n = cap + 1;
  let buf = new ArrayBuffer(0);
  while (n > cap) {
    cap = max(cap, n);
    buf = new ArrayBuffer(cap);
    n = sys.process_info(pid, changetype<usize>(buf), cap);
    if (n < 0) return err<string>(n);
  }
  return ok(String.UTF8.decodeUnsafe(changetype<usize>(buf), n));
}

/** Ends this process normally. */
export function exitNormal(): void {
  sys.exit(EXIT_NORMAL, 0, 0);
  unreachable();
}

/** Ends this process with reason shutdown(detail). */
export function exitShutdown(detail: string): void {
  const b = utf8(detail);
  sys.exit(EXIT_SHUTDOWN, changetype<usize>(b), b.byteLength);
  unreachable();
}

/** Ends this process with an error: links and monitors see `detail`. */
export function exitError(detail: string): void {
  const b = utf8(detail);
  sys.exit(EXIT_ERROR, changetype<usize>(b), b.byteLength);
  unreachable();
}

/** Sends an exit signal with an error reason to `pid` (kill: untrappable).
 * Needs cap proc for another process. */
export function exitPid(pid: Pid, detail: string, kill: bool = false): i32 {
  const b = utf8(detail);
  return sys.exit_pid(pid, kill ? EXIT_KILL : EXIT_ERROR, changetype<usize>(b), b.byteLength);
}

/** Suspends this process (not the worker thread) for `ms` milliseconds;
 * messages that arrive meanwhile stay queued. */
export function sleep(ms: i64): void {
  sys.sleep(nanos(ms));
}

/** Lets other processes run. */
export function yieldNow(): void {
  sys.yield_();
}

// ---- abort -------------------------------------------------------------------

// The abort handler (the build's --use abort=~lib/rusm/assembly/index/__rusm_abort):
// ends the process with an error whose detail says where it aborted. It
// allocates nothing: the detail is written to a static buffer.
const ABORT_CAP: i32 = 512;
const abortBuf: usize = memory.data(ABORT_CAP);

function abortAppend(at: i32, s: string | null): i32 {
  if (s == null) return at;
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  const units = min(s.length, (ABORT_CAP - at) / 3);
  if (units <= 0) return at;
  return at + <i32>String.UTF8.encodeUnsafe(changetype<usize>(s), units, abortBuf + at);
}

function abortNumber(at: i32, v: u32): i32 {
  let digits = 1;
  for (let x = v; x >= 10; x /= 10) digits++;
  if (at + digits > ABORT_CAP) return at;
  for (let i = digits - 1, x = v; i >= 0; i--, x /= 10) {
    store<u8>(abortBuf + <usize>(at + i), 0x30 + x % 10);
  }
  return at + digits;
}

export function __rusm_abort(
  message: string | null,
  fileName: string | null,
  line: u32,
  column: u32,
): void {
  let n = abortAppend(0, "abort: ");
  n = abortAppend(n, message != null ? message : "(no message)");
  if (fileName != null) {
    n = abortAppend(n, " at ");
    n = abortAppend(n, fileName);
    n = abortNumber(abortAppend(n, ":"), line);
    n = abortNumber(abortAppend(n, ":"), column);
  }
  sys.exit(EXIT_ERROR, abortBuf, n);
  unreachable();
}

// ---- messages ----------------------------------------------------------------

/** How a process ended, as an EXIT or DOWN message says. */
export class Exit {
  constructor(
    public from: Pid,
    /** REASON_NORMAL, REASON_SHUTDOWN, REASON_KILLED, REASON_NOPROC, REASON_ERROR,
     * REASON_NOCONNECTION. */
    public kind: u32,
    public detail: string,
    /** DOWN: the monitor's reference; EXIT: 0. */
    public monitor: u64,
  ) {}
}

/** A received message. */
export class Message {
  constructor(
    public tag: u64,
    public from: Pid,
    /** DOWN: the monitor reference; else the sender's correlation value (0). */
    public ref: u64,
    public data: Uint8Array,
  ) {}

  /** The payload as UTF-8 text. */
  text(): string {
    return textOf(this.data);
  }

  isExit(): bool {
    return this.tag == TAG_EXIT;
  }

  isDown(): bool {
    return this.tag == TAG_DOWN;
  }

  /** The exit an EXIT or DOWN message reports; null for other messages. */
  exit(): Exit | null {
    const p = this.data.dataStart;
    const n = <usize>this.data.byteLength;
    if (this.tag == TAG_EXIT && n >= sys.rusm_exit_payload.SIZE) {
      const e = changetype<sys.rusm_exit_payload>(p);
      const len = min(<usize>e.detail_len, n - sys.rusm_exit_payload.SIZE);
      const at = p + sys.rusm_exit_payload.SIZE;
      return new Exit(e.from, e.kind, String.UTF8.decodeUnsafe(at, len), 0);
    }
    if (this.tag == TAG_DOWN && n >= sys.rusm_down_payload.SIZE) {
      const d = changetype<sys.rusm_down_payload>(p);
      const len = min(<usize>d.detail_len, n - sys.rusm_down_payload.SIZE);
      const at = p + sys.rusm_down_payload.SIZE;
      return new Exit(d.from, d.kind, String.UTF8.decodeUnsafe(at, len), d.ref);
    }
    return null;
  }
}

/** Sends `data` (a string, Uint8Array or ArrayBuffer) to `to` with `tag`.
 * Sending to a dead process is not an error. EBADARG (pid 0, a reserved
 * tag), EFULL (the receiver's mailbox is full: the message was dropped). */
export function send<T>(to: Pid, tag: u64, data: T): i32 {
  const b = bytesOf<T>(data);
  return sys.send(to, tag, b.dataStart, b.byteLength);
}

/** Sends to the process registered as `name` on this node (cap registry).
 * ENOTFOUND. */
export function sendName<T>(name: string, tag: u64, data: T): i32 {
  const n = utf8(name);
  const b = bytesOf<T>(data);
  return sys.send_name(changetype<usize>(n), n.byteLength, tag, b.dataStart, b.byteLength);
}

const HEADER: usize = memory.data(<i32>sys.rusm_msg.SIZE, 8);
const SCRATCH_CAP: i32 = 256;
const SCRATCH: usize = memory.data(SCRATCH_CAP, 8);

function receiveRaw(tag: u64, useTag: bool, timeoutNs: i64): Message | null {
  const n = sys.receive(tag, useTag ? 1 : 0, timeoutNs, HEADER, SCRATCH, SCRATCH_CAP);
  if (n == sys.ETIMEOUT) return null;
  if (n < 0) exitError("rusm.receive: " + errorName(n)); // our own buffers: cannot happen
  const data = new Uint8Array(n);
  memory.copy(data.dataStart, SCRATCH, <usize>min(n, SCRATCH_CAP));
  if (n > SCRATCH_CAP) {
    const r = sys.message_read(SCRATCH_CAP, data.dataStart + SCRATCH_CAP, n - SCRATCH_CAP);
    if (r < 0) exitError("rusm.message_read: " + errorName(r));
  }
  const h = changetype<sys.rusm_msg>(HEADER);
  return new Message(h.tag, h.from, h.ref, data);
}

// A receive of any tag skips TAG_SUPERVISOR_REPLY: the late answer to a
// Supervisor call that timed out, which no caller waits for any more (each
// one skipped restarts the timeout).
function receiveAny(timeoutNs: i64): Message | null {
  let m = receiveRaw(0, false, timeoutNs);
  while (m != null && m.tag == TAG_SUPERVISOR_REPLY) m = receiveRaw(0, false, timeoutNs);
  return m;
}

/** The oldest message in the mailbox, waiting as long as it takes. */
export function receive(): Message {
  return changetype<Message>(receiveAny(-1));
}

/** The oldest message, or null after `timeoutMs` milliseconds (0: poll). */
export function receiveTimeout(timeoutMs: i64): Message | null {
  return receiveAny(nanos(timeoutMs));
}

/** The oldest message with `tag` (selective receive: the others stay
 * queued, in order), or null after `timeoutMs` (negative: wait forever). */
export function receiveTag(tag: u64, timeoutMs: i64 = -1): Message | null {
  return receiveRaw(tag, true, nanos(timeoutMs));
}

// ---- spawning ----------------------------------------------------------------

/** Options of spawnWith. */
export class SpawnOptions {
  link: bool = false;
  monitor: bool = false;
  /** The child traps exits from the start. */
  trapExit: bool = false;
  /** Capabilities the child asks for (CAP_* bits), never more than this
   * process's; -1: inherit. */
  caps: i64 = -1;
  /** 0: the parent's limit (never more). */
  maxMemoryPages: u32 = 0;
  /** 0: unbounded. */
  mailboxBound: u32 = 0;
  label: string | null = null;
}

/** A spawned process and, with SpawnOptions.monitor, the monitor's reference. */
export class Spawned {
  constructor(
    public pid: Pid,
    public monitor: u64,
  ) {}
}

const SPAWN_OPTS: usize = memory.data(<i32>sys.rusm_spawn_opts.SIZE, 8);
const SPAWNED: usize = memory.data(<i32>sys.rusm_spawned.SIZE, 8);

/** Starts the exported function `fn` of this module in a new process with
 * `args` (one per i32/i64 parameter; an i32 takes the low half). Cap spawn.
 * ENOTFOUND (no such export), EBADARG (argument count), ELIMIT. */
export function spawnWith(fn: string, args: u64[], o: SpawnOptions): Result<Spawned> {
  const name = utf8(fn);
  const label = o.label != null ? utf8(changetype<string>(o.label)) : null;
  const opts = changetype<sys.rusm_spawn_opts>(SPAWN_OPTS);
  opts.flags =
    (o.link ? SPAWN_LINK : 0) |
    (o.monitor ? SPAWN_MONITOR : 0) |
    (o.trapExit ? SPAWN_TRAP_EXIT : 0) |
    (o.caps >= 0 ? SPAWN_CAPS : 0);
  opts.mailbox_bound = o.mailboxBound;
  opts.max_memory_pages = o.maxMemoryPages;
  opts.caps = o.caps >= 0 ? <u32>o.caps : 0;
  opts.label = label != null ? changetype<usize>(label) : 0;
  opts.label_len = label != null ? label.byteLength : 0;
  const out = changetype<sys.rusm_spawned>(SPAWNED);
  out.pid = 0;
  out.monitor = 0;
  const r = sys.spawn(
    changetype<usize>(name),
    name.byteLength,
    args.dataStart,
    args.length,
    SPAWN_OPTS,
    SPAWNED,
  );
  if (r < 0) return err<Spawned>(r);
  return ok(new Spawned(out.pid, out.monitor));
}

/** spawnWith without options. */
export function spawn(fn: string, args: u64[] = []): Result<Pid> {
  const r = spawnWith(fn, args, new SpawnOptions());
  return r.ok ? ok<Pid>(r.value.pid) : err<Pid>(r.error);
}

/** Spawns linked to this process (needs cap spawn, not proc). */
export function spawnLink(fn: string, args: u64[] = []): Result<Pid> {
  const o = new SpawnOptions();
  o.link = true;
  const r = spawnWith(fn, args, o);
  return r.ok ? ok<Pid>(r.value.pid) : err<Pid>(r.error);
}

/** Spawns monitored by this process: a DOWN message follows its end. */
export function spawnMonitor(fn: string, args: u64[] = []): Result<Spawned> {
  const o = new SpawnOptions();
  o.monitor = true;
  return spawnWith(fn, args, o);
}

/** Starts `fn` (a function of this module, exported or not) in a new process
 * with `arg`: spawnWith("__rusm_run", ...) with the function's reference,
 * which is the same in every instance of the module. The entry file must
 * export the trampoline: `export { __rusm_run } from "rusm";`. */
export function spawnFn(
  fn: (arg: u64) => void,
  arg: u64,
  o: SpawnOptions = new SpawnOptions(),
): Result<Spawned> {
  return spawnWith("__rusm_run", [<u64>changetype<usize>(fn), arg], o);
}

/** The entry of a process started by spawnFn: calls the function `fn`
 * refers to with `arg`. Export it from the entry file to use spawnFn. */
export function __rusm_run(fn: u64, arg: u64): void {
  changetype<(arg: u64) => void>(<usize>fn)(arg);
}

// ---- links, monitors, exits --------------------------------------------------

/** Links this process to `pid` (cap proc): when one ends with an error, the
 * other gets an exit signal. Linking a dead process gives noproc. */
export function link(pid: Pid): i32 {
  return sys.link(pid);
}

export function unlink(pid: Pid): i32 {
  return sys.unlink(pid);
}

/** Watches `pid`: exactly one DOWN message (TAG_DOWN) follows its end. */
export function monitor(pid: Pid): Result<u64> {
  const r = sys.monitor(pid);
  return r < 0 ? err<u64>(<i32>r) : ok<u64>(<u64>r);
}

/** Stops a monitor; with `flush`, a DOWN already queued is removed. True if
 * the monitor was active. */
export function demonitor(ref: u64, flush: bool = false): bool {
  return sys.demonitor(ref, flush ? 1 : 0) > 0;
}

/** With `on`, exit signals from linked processes arrive as EXIT messages
 * instead of ending this one. Returns the previous setting. */
export function trapExit(on: bool): bool {
  return sys.trap_exit(on ? 1 : 0) > 0;
}

// ---- the registry (cap registry) ---------------------------------------------

/** Registers this process as `name` on this node. EEXISTS. */
export function register(name: string): i32 {
  const b = utf8(name);
  return sys.register(changetype<usize>(b), b.byteLength);
}

export function unregister(name: string): i32 {
  const b = utf8(name);
  return sys.unregister(changetype<usize>(b), b.byteLength);
}

/** The process registered as `name`, or 0. */
export function whereis(name: string): Pid {
  const b = utf8(name);
  const p = sys.whereis(changetype<usize>(b), b.byteLength);
  return p > 0 ? <u64>p : 0;
}

// ---- the cluster: global names and nodes (docs/cluster.md) -------------------
// On a node that is not in a cluster, global names live on it alone.

/** Registers this process as `name` on every node of the cluster (cap
 * registry). EEXISTS, ENOTCONN (the cluster's etcd could not be reached). */
export function registerGlobal(name: string): i32 {
  const b = utf8(name);
  return sys.register_global(changetype<usize>(b), b.byteLength);
}

export function unregisterGlobal(name: string): i32 {
  const b = utf8(name);
  return sys.unregister_global(changetype<usize>(b), b.byteLength);
}

/** The process (of any node) registered globally as `name`, or 0. */
export function whereisGlobal(name: string): Pid {
  const b = utf8(name);
  const p = sys.whereis_global(changetype<usize>(b), b.byteLength);
  return p > 0 ? <u64>p : 0;
}

/** Sends to the process registered globally as `name`. ENOTFOUND, ENOTCONN. */
export function sendGlobal<T>(name: string, tag: u64, data: T): i32 {
  const n = utf8(name);
  const b = bytesOf<T>(data);
  return sys.send_global(changetype<usize>(n), n.byteLength, tag, b.dataStart, b.byteLength);
}

/** This node's id (the top 16 bits of its pids; 0 outside a cluster). */
export function nodeSelf(): u32 {
  return <u32>sys.node_self();
}

/** The ids of the other nodes that are up. */
export function nodes(): u32[] {
  let cap = 16;
  let n = cap + 1;
  let out = new Array<u32>(0);
  while (n > cap) {
    cap = max(cap, n);
    out = new Array<u32>(cap);
    n = sys.nodes(out.dataStart, cap);
    if (n < 0) return [];
  }
  out.length = n;
  return out;
}

/** A node's name (this node's, or a peer's). ENOTFOUND (never seen). */
export function nodeName(node: u32): Result<string> {
  let cap = 64;
  let n = cap + 1;
  let buf = new ArrayBuffer(0);
  while (n > cap) {
    cap = max(cap, n);
    buf = new ArrayBuffer(cap);
    n = sys.node_name(node, changetype<usize>(buf), cap);
    if (n < 0) return err<string>(n);
  }
  return ok(String.UTF8.decodeUnsafe(changetype<usize>(buf), n));
}

/** Every process of this node (cap proc). */
export function processes(): Result<Pid[]> {
  let cap = 256;
  let n = cap + 1;
  let out = new Array<u64>(0);
  while (n > cap) {
    cap = max(cap, n + 16); // processes come and go between calls
    out = new Array<u64>(cap);
    n = sys.processes(out.dataStart, cap);
    if (n < 0) return err<Pid[]>(n);
  }
  out.length = n;
  return ok<Pid[]>(out);
}

// ---- topics (cap pubsub) -----------------------------------------------------

/** Subscribes this process to `topic` (1 to 255 bytes; twice is once):
 * what is published there arrives as plain messages. */
export function subscribe(topic: string): i32 {
  const t = utf8(topic);
  return sys.subscribe(changetype<usize>(t), t.byteLength);
}

/** ENOTFOUND if this process was not subscribed. */
export function unsubscribe(topic: string): i32 {
  const t = utf8(topic);
  return sys.unsubscribe(changetype<usize>(t), t.byteLength);
}

/** Sends a copy of `data` with `tag` to every subscriber of `topic`, on every
 * node: how many copies went out. */
export function publish<T>(topic: string, tag: u64, data: T): Result<i32> {
  const t = utf8(topic);
  const b = bytesOf<T>(data);
  const r = sys.publish(changetype<usize>(t), t.byteLength, tag, b.dataStart, b.byteLength);
  return r < 0 ? err<i32>(r) : ok<i32>(r);
}

// ---- timers ------------------------------------------------------------------

/** Sends `data` to `to` with `tag` after `delayMs`: the timer's id. ELIMIT
 * (past this process's message budget). Cancelled when this process exits. */
export function sendAfter<T>(delayMs: i64, to: Pid, tag: u64, data: T): Result<u64> {
  const b = bytesOf<T>(data);
  const r = sys.send_after(nanos(delayMs), to, tag, b.dataStart, b.byteLength);
  return r < 0 ? err<u64>(<i32>r) : ok<u64>(<u64>r);
}

/** Cancels a timer: the nanoseconds it had left. ENOTFOUND (fired or
 * cancelled already). */
export function cancelTimer(id: u64): Result<i64> {
  const r = sys.cancel_timer(<i64>id);
  return r < 0 ? err<i64>(<i32>r) : ok<i64>(r);
}

// ---- supervisors (cap spawn) -------------------------------------------------

/** A child of a supervisor: an exported function of this module (or of
 * `module`, one registered with the runtime) and its arguments. */
export class ChildSpec {
  /** PERMANENT, TRANSIENT or TEMPORARY. */
  restart: u32 = PERMANENT;
  /** Time it has to stop on shutdown before it is killed. */
  shutdownMs: u32 = 5000;
  /** CAP_* bits, never more than the caller's; -1: the caller's. */
  caps: i64 = -1;
  /** "": this module. */
  module: string = "";

  constructor(
    public id: string,
    public fn: string,
    public args: u64[] = [],
  ) {}
}

const SUP_CALL_MS: i64 = 5000;

/** A supervisor process (docs/abi.md, "Supervisor spec"): it restarts its
 * children as its strategy says, and dies when they crash more than
 * `maxRestarts` times in `maxSecondsMs`. It is linked to its starter. */
export class Supervisor {
  constructor(public pid: Pid) {}

  /** Starts a supervisor of `children` (for SIMPLE_ONE_FOR_ONE: exactly one,
   * the template; children come from startChild). EBADARG (bad spec, an
   * argument count that differs from the function's), ENOTFOUND. */
  static start(
    strategy: u32,
    children: ChildSpec[],
    maxRestarts: u32 = 3,
    maxSecondsMs: u32 = 5000,
  ): Result<Supervisor> {
    const n = children.length;
    const size = sys.rusm_sup_header.SIZE + <usize>n * sys.rusm_child_spec.SIZE;
    const spec = new ArrayBuffer(<i32>size);
    const keep = new Array<ArrayBuffer>(); // the strings the spec points into
    const h = changetype<sys.rusm_sup_header>(changetype<usize>(spec));
    h.strategy = strategy;
    h.max_restarts = maxRestarts;
    h.max_seconds_ms = maxSecondsMs;
    h.nchildren = n;
    for (let i = 0; i < n; i++) {
      const c = children[i];
      const e = changetype<sys.rusm_child_spec>(
        changetype<usize>(spec) + sys.rusm_sup_header.SIZE + <usize>i * sys.rusm_child_spec.SIZE,
      );
      const id = utf8(c.id);
      const fn = utf8(c.fn);
      const mod = utf8(c.module);
      keep.push(id);
      keep.push(fn);
      keep.push(mod);
      e.id = changetype<usize>(id);
      e.id_len = id.byteLength;
      e.module_ = mod.byteLength > 0 ? changetype<usize>(mod) : 0;
      e.module_len = mod.byteLength;
      e.fn = changetype<usize>(fn);
      e.fn_len = fn.byteLength;
      e.args = c.args.dataStart;
      e.nargs = c.args.length;
      e.restart = c.restart;
      e.shutdown_ms = c.shutdownMs;
      e.flags = c.caps >= 0 ? SPAWN_CAPS : 0;
      e.caps = c.caps >= 0 ? <u32>c.caps : 0;
    }
    const r = sys.supervisor_start(changetype<usize>(spec), <u32>size);
    // `keep` must outlive the call: the loop's allocations may run the GC,
    // and nothing else refers to the strings the spec points into.
    if (keep.length != 3 * n) unreachable();
    if (r < 0) return err<Supervisor>(<i32>r);
    return ok(new Supervisor(<u64>r));
  }

  /** SIMPLE_ONE_FOR_ONE: starts a child from the template, with the
   * template's arguments followed by `args`. */
  startChild(args: u64[] = [], timeoutMs: i64 = SUP_CALL_MS): Result<Pid> {
    const pid = <i64>this.pid;
    const r = sys.supervisor_start_child(pid, args.dataStart, args.length, nanos(timeoutMs));
    return r < 0 ? err<Pid>(<i32>r) : ok<Pid>(<u64>r);
  }

  /** Stops a child and forgets it (it is not restarted). */
  terminateChild(child: Pid, timeoutMs: i64 = SUP_CALL_MS): i32 {
    return sys.supervisor_terminate_child(<i64>this.pid, <i64>child, nanos(timeoutMs));
  }

  /** The live children, in start order. */
  whichChildren(timeoutMs: i64 = SUP_CALL_MS): Result<Pid[]> {
    let cap = 16;
    let n = cap + 1;
    let out = new Array<u64>(0);
    while (n > cap) {
      cap = max(cap, n);
      out = new Array<u64>(cap);
      n = sys.supervisor_which_children(<i64>this.pid, out.dataStart, cap, nanos(timeoutMs));
      if (n < 0) return err<Pid[]>(n);
    }
    out.length = n;
    return ok<Pid[]>(out);
  }
}

// ---- crypto (cap crypto; docs/crypto.md) --------------------------------------
// Only the stateless calls are wrapped; keys, AEAD and signatures are in sys.

/** `n` bytes from the OS's CSPRNG. */
export function randomBytes(n: i32): Result<Uint8Array> {
  const out = new Uint8Array(n);
  const r = sys.crypto_random(out.dataStart, n);
  return r < 0 ? err<Uint8Array>(r) : ok(out);
}

/** The digest of `data` with hash `alg` (sys.HASH_SHA256, ...). */
export function digest<T>(alg: i32, data: T): Result<Uint8Array> {
  const b = bytesOf<T>(data);
  const out = new Uint8Array(64);
  const r = sys.crypto_digest(alg, b.dataStart, b.byteLength, out.dataStart, out.byteLength);
  return r < 0 ? err<Uint8Array>(r) : ok(out.subarray(0, r));
}

/** HMAC of `data` under `key` with hash `alg`. */
export function hmac<K, T>(alg: i32, key: K, data: T): Result<Uint8Array> {
  const k = bytesOf<K>(key);
  const b = bytesOf<T>(data);
  const out = new Uint8Array(64);
  const kp = k.dataStart;
  const r = sys.crypto_hmac(alg, kp, k.byteLength, b.dataStart, b.byteLength, out.dataStart, 64);
  return r < 0 ? err<Uint8Array>(r) : ok(out.subarray(0, r));
}

/** Lowercase hex of `b` (for digests). */
export function hex(b: Uint8Array): string {
  const digits = "0123456789abcdef";
  let out = "";
  for (let i = 0; i < b.length; i++) {
    out += digits.charAt(b[i] >> 4) + digits.charAt(b[i] & 15);
  }
  return out;
}

// ---- the key-value store (cap kv, buckets granted by name) -------------------

/** One entry of Bucket.list. */
export class KvEntry {
  constructor(
    public key: Uint8Array,
    /** Empty unless the list asked for values. */
    public value: Uint8Array,
  ) {}

  keyText(): string {
    return textOf(this.key);
  }

  valueText(): string {
    return textOf(this.value);
  }
}

/** Steps of an atomic Bucket.batch: its checks run first; if one fails
 * nothing is written. At most 1024 steps and 16 MiB. */
export class KvBatch {
  private ops: Uint8Array[] = [];
  private size: i32 = 0;

  private add(kind: i32, k: Uint8Array, v: Uint8Array): KvBatch {
    const op = new Uint8Array(<i32>sys.rusm_kv_op.SIZE + k.byteLength + v.byteLength);
    const h = changetype<sys.rusm_kv_op>(op.dataStart);
    h.kind = kind;
    h.key_len = k.byteLength;
    h.value_len = v.byteLength;
    op.set(k, <i32>sys.rusm_kv_op.SIZE);
    op.set(v, <i32>sys.rusm_kv_op.SIZE + k.byteLength);
    this.ops.push(op);
    this.size += op.byteLength;
    return this;
  }

  put<K, V>(key: K, value: V): KvBatch {
    return this.add(sys.KV_OP_PUT, bytesOf<K>(key), bytesOf<V>(value));
  }

  /** Deletes the key (a missing key is fine). */
  delete<K>(key: K): KvBatch {
    return this.add(sys.KV_OP_DELETE, bytesOf<K>(key), new Uint8Array(0));
  }

  /** Requires the key to hold `value`. */
  check<K, V>(key: K, value: V): KvBatch {
    return this.add(sys.KV_OP_CHECK, bytesOf<K>(key), bytesOf<V>(value));
  }

  /** Requires the key to be absent. */
  checkAbsent<K>(key: K): KvBatch {
    return this.add(sys.KV_OP_CHECK_ABSENT, bytesOf<K>(key), new Uint8Array(0));
  }

  /** The steps, laid out as kv_batch reads them. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (let i = 0; i < this.ops.length; i++) {
      out.set(this.ops[i], at);
      at += this.ops[i].byteLength;
    }
    return out;
  }
}

const KV_OUT: usize = memory.data(8, 8);

/** A bucket of the node's durable key-value store (docs/kv.md). Every call
 * but open and close returns once the store has committed it. Keys and
 * values are strings (UTF-8), Uint8Arrays or ArrayBuffers. */
export class Bucket {
  private constructor(public readonly handle: i32) {}

  /** A bucket this process was granted (`--allow kv:NAME`). EDENIED (not
   * granted), ENOTSUP (the node has no store). */
  static open(name: string): Result<Bucket> {
    const b = utf8(name);
    const h = sys.kv_open(changetype<usize>(b), b.byteLength);
    return h < 0 ? err<Bucket>(h) : ok(new Bucket(h));
  }

  /** The value, or null if there is no such key. */
  get<K>(key: K): Result<Uint8Array | null> {
    const k = bytesOf<K>(key);
    let buf = new Uint8Array(256);
    let n = sys.kv_get(this.handle, k.dataStart, k.byteLength, buf.dataStart, buf.byteLength);
    while (n > buf.byteLength) {
      buf = new Uint8Array(n); // it may grow between calls: ask until it fits
      n = sys.kv_get(this.handle, k.dataStart, k.byteLength, buf.dataStart, buf.byteLength);
    }
    if (n == sys.ENOTFOUND) return ok<Uint8Array | null>(null);
    if (n < 0) return err<Uint8Array | null>(n);
    return ok<Uint8Array | null>(buf.subarray(0, n));
  }

  /** The value as UTF-8 text, or null if there is no such key. */
  getText<K>(key: K): Result<string | null> {
    const r = this.get<K>(key);
    if (!r.ok) return err<string | null>(r.error);
    const v = r.value;
    return ok<string | null>(v != null ? textOf(v) : null);
  }

  /** EDENIED (a read-only grant), ETOOLARGE. */
  put<K, V>(key: K, value: V): i32 {
    const k = bytesOf<K>(key);
    const v = bytesOf<V>(value);
    return sys.kv_put(this.handle, k.dataStart, k.byteLength, v.dataStart, v.byteLength);
  }

  /** False if there was no such key. */
  delete<K>(key: K): Result<bool> {
    const k = bytesOf<K>(key);
    const r = sys.kv_delete(this.handle, k.dataStart, k.byteLength);
    if (r == sys.ENOTFOUND) return ok(false);
    return r < 0 ? err<bool>(r) : ok(true);
  }

  /** Adds `delta` to a decimal integer value (a missing key is 0): the sum.
   * EBADSTATE (the value is not an integer), ELIMIT (overflow). */
  incr<K>(key: K, delta: i64 = 1): Result<i64> {
    const k = bytesOf<K>(key);
    const r = sys.kv_incr(this.handle, k.dataStart, k.byteLength, delta, KV_OUT);
    return r < 0 ? err<i64>(r) : ok<i64>(load<i64>(KV_OUT));
  }

  /** Writes `value` only if the key holds `expected`: false if it holds
   * something else (or nothing). */
  compareAndSwap<K, V>(key: K, expected: V, value: V): Result<bool> {
    const e = bytesOf<V>(expected);
    return this.cas(bytesOf<K>(key), e, bytesOf<V>(value), 0);
  }

  /** Writes `value` only if the key is absent: false if it exists. */
  putIfAbsent<K, V>(key: K, value: V): Result<bool> {
    return this.cas(bytesOf<K>(key), new Uint8Array(0), bytesOf<V>(value), sys.KV_IF_ABSENT);
  }

  /** Deletes the key only if it holds `expected`: false otherwise. */
  deleteIf<K, V>(key: K, expected: V): Result<bool> {
    return this.cas(bytesOf<K>(key), bytesOf<V>(expected), new Uint8Array(0), sys.KV_DELETE);
  }

  private cas(k: Uint8Array, e: Uint8Array, v: Uint8Array, flags: i32): Result<bool> {
    const r = sys.kv_cas(
      this.handle,
      k.dataStart,
      k.byteLength,
      e.dataStart,
      e.byteLength,
      v.dataStart,
      v.byteLength,
      flags,
    );
    if (r == sys.ECONFLICT) return ok(false);
    return r < 0 ? err<bool>(r) : ok(true);
  }

  /** One page of the keys that start with `prefix` and sort after `after`
   * (bytewise; "": from the first), at most 1000; empty at the end. Page on
   * with the last key as `after`. */
  list<K>(prefix: K, after: Uint8Array | null = null, values: bool = false): Result<KvEntry[]> {
    const p = bytesOf<K>(prefix);
    const a = after != null ? after : new Uint8Array(0);
    const flags = values ? sys.KV_VALUES : 0;
    let cap = 64 * 1024;
    let buf = new Uint8Array(cap);
    const h = this.handle;
    const pp = p.dataStart;
    const pl = p.byteLength;
    const ap = a.dataStart;
    const al = a.byteLength;
    let n = sys.kv_list(h, pp, pl, ap, al, buf.dataStart, cap, flags);
    // The first entry did not fit (a value of up to 1 MiB): a bigger buffer.
    while (n == sys.ETOOLARGE && cap < 4 * 1024 * 1024) {
      cap *= 4;
      buf = new Uint8Array(cap);
      n = sys.kv_list(h, pp, pl, ap, al, buf.dataStart, cap, flags);
    }
    if (n < 0) return err<KvEntry[]>(n);
    const out = new Array<KvEntry>();
    let at: i32 = 0;
    for (let i = 0; i < n; i++) {
      const entry = changetype<sys.rusm_kv_entry>(buf.dataStart + <usize>at);
      const kl = <i32>entry.key_len;
      const vl = <i32>entry.value_len;
      at += <i32>sys.rusm_kv_entry.SIZE;
      const key = buf.slice(at, at + kl);
      at += kl;
      const value = values ? buf.slice(at, at + vl) : new Uint8Array(0);
      if (values) at += vl;
      out.push(new KvEntry(key, value));
    }
    return ok(out);
  }

  /** Runs the batch's steps atomically: -1 when it was committed, else the
   * index of the check that failed (nothing was written). Other errors:
   * EBADARG, ETOOLARGE, EDENIED, EIO. */
  batch(b: KvBatch): Result<i32> {
    const ops = b.bytes();
    store<i32>(KV_OUT, -1);
    const r = sys.kv_batch(this.handle, ops.dataStart, ops.byteLength, KV_OUT);
    if (r == sys.ECONFLICT) return ok<i32>(load<i32>(KV_OUT));
    return r < 0 ? err<i32>(r) : ok<i32>(-1);
  }

  /** Gives the handle back (it also goes at the process's exit). */
  close(): i32 {
    return sys.kv_close(this.handle);
  }
}

// ---- outbound HTTP(S): fetch (cap net; docs/fetch.md) ------------------------

/** A request for `fetch`. Only hosts granted with `--allow-net HOST:PORT` are
 * reachable (EDENIED otherwise); the host sets Host, Content-Length and
 * Connection itself (EBADARG if `headers` does). */
export class FetchRequest {
  method: string = ""; // empty: GET
  headers: string = ""; // "Name: value\r\n" each
  body: Uint8Array = new Uint8Array(0);
  timeoutMs: u32 = 0; // 0: the node's (30 s)
  maxResponse: u32 = 0; // body bytes at most; 0: the node's cap
  constructor(public url: string) {}
}

/** A response whose head has arrived: read its body with `read` until it
 * gives an empty array, then `close` it (it also goes with the process). */
export class FetchResponse {
  constructor(
    public readonly handle: i32,
    public readonly status: u32,
    /** -1: not known (chunked, or until the connection closes). */
    public readonly contentLength: i64,
  ) {}

  /** The headers, "Name: value\r\n" each. */
  headers(): string {
    const size = <i32>offsetof<sys.rusm_fetch_response>();
    const probe = new Uint8Array(size);
    const n = sys.fetch_head(this.handle, probe.dataStart, size);
    if (n < size) return "";
    const all = new Uint8Array(n);
    sys.fetch_head(this.handle, all.dataStart, n);
    return textOf(all.subarray(size));
  }

  /** Up to `max` body bytes, waiting until some arrive; empty at the end.
   * ETIMEOUT, ETOOLARGE (past the cap), EIO. */
  read(max: i32 = 65536): Result<Uint8Array> {
    const buf = new Uint8Array(max);
    const n = sys.fetch_read(this.handle, buf.dataStart, max);
    return n < 0 ? err<Uint8Array>(n) : ok(buf.subarray(0, n));
  }

  /** The whole body as UTF-8 text. */
  text(): Result<string> {
    let s = "";
    for (;;) {
      const r = this.read();
      if (!r.ok) return err<string>(r.error);
      if (r.value.byteLength == 0) return ok(s);
      s += textOf(r.value);
    }
  }

  close(): void {
    sys.fetch_close(this.handle);
  }
}

/** Sends `req` and waits (the process, not the thread) for the response's
 * head. EDENIED (host not granted, or a local address it does not name),
 * ENOTCONN, ETIMEOUT, EAUTH (certificate), EIO, ETOOLARGE, EBADARG. */
export function fetch(req: FetchRequest): Result<FetchResponse> {
  const method = Uint8Array.wrap(utf8(req.method));
  const url = Uint8Array.wrap(utf8(req.url));
  const headers = Uint8Array.wrap(utf8(req.headers));
  const size = <i32>offsetof<sys.rusm_fetch_request>();
  const buf = new Uint8Array(
    size + method.byteLength + url.byteLength + headers.byteLength + req.body.byteLength,
  );
  const head = changetype<sys.rusm_fetch_request>(buf.dataStart);
  head.method_len = method.byteLength;
  head.url_len = url.byteLength;
  head.headers_len = headers.byteLength;
  head.body_len = req.body.byteLength;
  head.timeout_ms = req.timeoutMs;
  head.max_response = req.maxResponse;
  let at = size;
  buf.set(method, at);
  at += method.byteLength;
  buf.set(url, at);
  at += url.byteLength;
  buf.set(headers, at);
  at += headers.byteLength;
  buf.set(req.body, at);
  const h = sys.fetch(buf.dataStart, buf.byteLength);
  if (h < 0) return err<FetchResponse>(h);
  const r = new Uint8Array(size);
  sys.fetch_head(h, r.dataStart, <i32>offsetof<sys.rusm_fetch_response>());
  const resp = changetype<sys.rusm_fetch_response>(r.dataStart);
  const length: i64 = resp.content_length == u64.MAX_VALUE ? -1 : <i64>resp.content_length;
  return ok(new FetchResponse(h, resp.status, length));
}

// ---- serving: an http route's handler (docs/abi.md, "Serving") ---------------

const HTTP_METHOD = 0;
const HTTP_TARGET = 1;
const HTTP_PATH = 2;
const HTTP_QUERY = 3;
const HTTP_PEER = 4;
const HTTP_HEADERS = 5;
const HTTP_HEADER = 6; // by name

/** The request of a process that `rusm serve` started for an http route
 * (its entry, `handle` by default, takes the handle: `export function
 * handle(req: i32): void`). The response ends with the process: one that
 * ends without answering gets 500. */
export class HttpRequest {
  constructor(public readonly handle: i32) {}

  private text(what: i32, name: ArrayBuffer | null): Result<string> {
    let cap = 256;
    let n = cap + 1;
    let buf = new ArrayBuffer(0);
    while (n > cap) {
      cap = max(cap, n);
      buf = new ArrayBuffer(cap);
      const p = changetype<usize>(buf);
      const q = name != null ? changetype<usize>(name) : 0;
      const ql = name != null ? name.byteLength : 0;
      switch (what) {
        case HTTP_METHOD: n = sys.http_method(this.handle, p, cap); break;
        case HTTP_TARGET: n = sys.http_target(this.handle, p, cap); break;
        case HTTP_PATH: n = sys.http_path(this.handle, p, cap); break;
        case HTTP_QUERY: n = sys.http_query(this.handle, p, cap); break;
        case HTTP_PEER: n = sys.http_peer(this.handle, p, cap); break;
        case HTTP_HEADERS: n = sys.http_headers(this.handle, p, cap); break;
        default: n = sys.http_header(this.handle, q, ql, p, cap);
      }
      if (n < 0) return err<string>(n);
    }
    return ok(String.UTF8.decodeUnsafe(changetype<usize>(buf), n));
  }

  /** GET, POST, ... as received. */
  method(): string {
    return this.text(HTTP_METHOD, null).unwrap();
  }
  /** The request target as received (`/users/7?x=1`). */
  target(): string {
    return this.text(HTTP_TARGET, null).unwrap();
  }
  /** The target up to `?`, still percent-encoded. */
  path(): string {
    return this.text(HTTP_PATH, null).unwrap();
  }
  /** After `?` ("" if none). */
  query(): string {
    return this.text(HTTP_QUERY, null).unwrap();
  }
  /** The client's address (`127.0.0.1:41234`). */
  peer(): string {
    return this.text(HTTP_PEER, null).unwrap();
  }
  /** Every header as `Name: value\n` lines, in the order received. */
  headers(): string {
    return this.text(HTTP_HEADERS, null).unwrap();
  }

  /** The first header of that name (case-insensitive), or null. */
  header(name: string): string | null {
    const r = this.text(HTTP_HEADER, utf8(name));
    return r.ok ? r.value : null;
  }

  /** A route parameter (`/users/{id}` -> "id"; "*" for a prefix route's
   * rest), percent-decoded, or null. */
  param(name: string): string | null {
    const nm = utf8(name);
    let cap = 256;
    let n = cap + 1;
    let buf = new ArrayBuffer(0);
    while (n > cap) {
      cap = max(cap, n);
      buf = new ArrayBuffer(cap);
      const p = changetype<usize>(buf);
      n = sys.http_param(this.handle, changetype<usize>(nm), nm.byteLength, p, cap);
      if (n < 0) return null;
    }
    return String.UTF8.decodeUnsafe(changetype<usize>(buf), n);
  }

  /** The whole body (empty for a request without one). ETOOLARGE past the
   * route's limit, ECLOSED. */
  body(): Result<Uint8Array> {
    const chunks = new Array<Uint8Array>();
    let total = 0;
    for (let n = 1; n > 0; ) {
      const chunk = new Uint8Array(16 * 1024);
      n = sys.http_read(this.handle, chunk.dataStart, chunk.byteLength);
      if (n < 0) return err<Uint8Array>(n);
      if (n > 0) {
        chunks.push(chunk.subarray(0, n));
        total += n;
      }
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      out.set(chunks[i], at);
      at += chunks[i].byteLength;
    }
    return ok(out);
  }

  /** Answers at once: status, `Name: value\n` header lines, and the body (a
   * string, Uint8Array or ArrayBuffer) with a Content-Length. EBADSTATE if a
   * response was already started. */
  respond<T>(status: i32, body: T, headers: string = ""): i32 {
    const h = utf8(headers);
    const b = bytesOf<T>(body);
    const hp = changetype<usize>(h);
    return sys.http_respond(this.handle, status, hp, h.byteLength, b.dataStart, b.byteLength);
  }

  /** Starts a streamed response (contentLength -1: chunked). */
  start(status: i32, headers: string = "", contentLength: i64 = -1): i32 {
    const h = utf8(headers);
    return sys.http_start(this.handle, status, changetype<usize>(h), h.byteLength, contentLength);
  }

  /** Appends body bytes (blocks this process while the client is slow). */
  write<T>(data: T): i32 {
    const b = bytesOf<T>(data);
    return sys.http_write(this.handle, b.dataStart, b.byteLength);
  }

  /** Server-Sent Events (an sse route): 200 with text/event-stream and
   * these extra header lines; then sendEvent. */
  startEvents(headers: string = ""): i32 {
    const h = utf8(headers);
    return sys.http_start_events(this.handle, changetype<usize>(h), h.byteLength);
  }

  /** One event: `event: NAME` (none for ""), a `data:` line per line of
   * `data`. Blocks this process while the client is slow. ECLOSED when the
   * client left. */
  sendEvent<T>(event: string, data: T): i32 {
    const e = utf8(event);
    const d = bytesOf<T>(data);
    const ep = changetype<usize>(e);
    return sys.http_send_event(this.handle, ep, e.byteLength, d.dataStart, d.byteLength);
  }

  /** Ends a streamed response. */
  finish(): i32 {
    return sys.http_finish(this.handle);
  }
}

// ---- serving: a ws route's handler (docs/abi.md, "WebSocket handlers") -------

const WS_PATH = 0;
const WS_QUERY = 1;
const WS_HEADER = 2;
const WS_PARAM = 3;

/** The connection of a process that `rusm serve` started for a ws route
 * (its entry takes the handle: `export function handle(ws: i32): void`).
 * Frames arrive in the mailbox: each message tagged TAG_WS_TEXT or
 * TAG_WS_BINARY (payload: its bytes), then one TAG_WS_CLOSE (wsCloseCode),
 * after which nothing follows. The connection closes when the process ends. */
export class WsConnection {
  constructor(public readonly handle: i32) {}

  private text(what: i32, name: string | null): string | null {
    const nm = name != null ? utf8(name) : new ArrayBuffer(0);
    const np = changetype<usize>(nm);
    let cap = 256;
    let n = cap + 1;
    let buf = new ArrayBuffer(0);
    while (n > cap) {
      cap = max(cap, n);
      buf = new ArrayBuffer(cap);
      const p = changetype<usize>(buf);
      switch (what) {
        case WS_PATH: n = sys.ws_path(this.handle, p, cap); break;
        case WS_QUERY: n = sys.ws_query(this.handle, p, cap); break;
        case WS_HEADER: n = sys.ws_header(this.handle, np, nm.byteLength, p, cap); break;
        default: n = sys.ws_param(this.handle, np, nm.byteLength, p, cap);
      }
      if (n < 0) return null;
    }
    return String.UTF8.decodeUnsafe(changetype<usize>(buf), n);
  }

  /** The upgrade request's path, still percent-encoded. */
  path(): string {
    const s = this.text(WS_PATH, null);
    return s != null ? s : "";
  }

  /** The query string without `?` ("" if none). */
  query(): string {
    const s = this.text(WS_QUERY, null);
    return s != null ? s : "";
  }

  /** The first request header of that name (case-insensitive), or null. */
  header(name: string): string | null {
    return this.text(WS_HEADER, name);
  }

  /** A route parameter (`/room/{id}`), percent-decoded, or null. */
  param(name: string): string | null {
    return this.text(WS_PARAM, name);
  }

  /** Sends a text message. Suspends this process while the client is slow.
   * ECLOSED (closing or gone), EFULL, EBADARG. */
  sendText(text: string): i32 {
    const b = utf8(text);
    return sys.ws_send(this.handle, 1, changetype<usize>(b), b.byteLength);
  }

  /** Sends a binary message (a string, Uint8Array or ArrayBuffer). */
  sendBinary<T>(data: T): i32 {
    const b = bytesOf<T>(data);
    return sys.ws_send(this.handle, 0, b.dataStart, b.byteLength);
  }

  /** Queues a ping (payload at most 125 bytes). */
  ping<T>(data: T): i32 {
    const b = bytesOf<T>(data);
    return sys.ws_ping(this.handle, b.dataStart, b.byteLength);
  }

  /** Starts the close handshake (code 1000-1014 except 1004-1006, or
   * 3000-4999; reason at most 123 bytes); TAG_WS_CLOSE follows. */
  close(code: i32 = 1000, reason: string = ""): i32 {
    const r = utf8(reason);
    return sys.ws_close(this.handle, code, changetype<usize>(r), r.byteLength);
  }
}

/** The close code of a TAG_WS_CLOSE message (0 if it has none). */
export function wsCloseCode(m: Message): i32 {
  return m.tag == TAG_WS_CLOSE && m.data.byteLength >= 2 ? <i32>load<u16>(m.data.dataStart) : 0;
}

/** The reason of a TAG_WS_CLOSE message. */
export function wsCloseReason(m: Message): string {
  if (m.tag != TAG_WS_CLOSE || m.data.byteLength < 2) return "";
  return String.UTF8.decodeUnsafe(m.data.dataStart + 2, <usize>m.data.byteLength - 2);
}
