// Types for rusm's JavaScript API (docs/js.md): the global `rusm`, the
// "rusm" module, and the Web-shaped globals a rusm JS process has
// (console, fetch, crypto, TextEncoder/TextDecoder, timers).
//
// For type checking only: `rusm run app.ts` strips types without checking
// them (esbuild). Check with tsc, this file and no DOM library, e.g. a
// tsconfig.json with
//   { "compilerOptions": { "lib": ["es2020"], "strict": true, "noEmit": true,
//                          "types": [] },
//     "files": ["app.ts", "<rusm>/guest/js/rusm.d.ts"] }
// ("dom" declares its own console, crypto and fetch, which differ).

declare namespace Rusm {
  /** A process id: a positive integer (exact below 2^53). */
  type Pid = number;
  /** A message tag: a string, or an integer in [0, 2^53) (the rusm tag itself). */
  type Tag = string | number;
  /** What send/publish/put accept: strings as UTF-8, bytes as they are, anything else as JSON. */
  type Data = string | ArrayBuffer | ArrayBufferView | null | undefined | object | number | boolean;
  /** A key of the key-value store: a string (UTF-8) or bytes. */
  type Key = string | ArrayBuffer | ArrayBufferView;
  type ExitReason = "normal" | "shutdown" | "killed" | "noproc" | "error" | "noconnection";
  /** The rusm error names a failed host call throws with (Error.code). */
  type ErrorCode =
    | "ETIMEOUT" | "ENOPROC" | "EBADARG" | "EDENIED" | "ENOTFOUND" | "EEXISTS" | "EFULL"
    | "ENOMSG" | "ELIMIT" | "ENOTSUP" | "ECLOSED" | "ETOOLARGE" | "EBADSTATE" | "ENOTCONN"
    | "EAUTH" | "ECONFLICT" | "EIO";
  /** An Error thrown for a failed host call. */
  interface RusmError extends Error {
    code: ErrorCode;
    /** kv batch: the index of the step whose check failed. */
    index?: number;
  }

  /** A received message. A topic's delivery has the topic as its tag (unless published with another). */
  interface Message {
    tag: Tag;
    from: Pid | null;
    data: Uint8Array;
    text(): string;
    json(): any;
  }
  interface ExitMessage {
    tag: "EXIT";
    from: Pid;
    reason: ExitReason;
    detail: string;
  }
  interface DownMessage {
    tag: "DOWN";
    from: Pid;
    ref: number;
    reason: ExitReason;
    detail: string;
  }
  /** A node of the cluster: its id (the top 16 bits of its pids). */
  type NodeId = number;
  /** monitorNode's messages: NODE_DOWN each time the node goes down (at once if it is not up), NODE_UP each time it comes up. */
  interface NodeMessage {
    tag: "NODE_UP" | "NODE_DOWN";
    from: null;
    node: NodeId;
  }
  type Received = Message | ExitMessage | DownMessage | NodeMessage;

  interface ReceiveOptions {
    /** Only a message with this tag ("EXIT", "DOWN", "NODE_UP", "NODE_DOWN" select those); the others stay queued. */
    tag?: Tag;
    /** Milliseconds to wait; none: for ever; 0: poll. */
    timeout?: number;
  }
  interface SpawnOptions {
    link?: boolean;
    monitor?: boolean;
    trapExit?: boolean;
    /** false withholds stdio from the child (default: it has its parent's). */
    stdio?: boolean;
    label?: string;
  }
  interface SpawnOnOptions {
    link?: boolean;
    monitor?: boolean;
    trapExit?: boolean;
    /** false withholds stdio from the child (default: asked for, if this process has it). */
    stdio?: boolean;
    label?: string;
    /** Milliseconds to wait for the other node's answer (ETIMEOUT); none: until it answers or goes down. */
    timeout?: number;
  }
  interface ProcessInfo {
    pid: number;
    status: string;
    label: string;
    memory: number;
    mailbox: number;
    reductions: number;
    [key: string]: string | number;
  }

  /** One entry of a bucket listing. */
  interface KvEntry {
    /** The key as text (UTF-8). */
    key: string;
    keyBytes: Uint8Array;
    /** The value (absent when listed with values: false). */
    value?: Uint8Array;
    text(): string | null;
    json(): any;
  }
  interface KvPage {
    entries: KvEntry[];
    /** Pass as `after` for the next page; null when no key is left. */
    next: Uint8Array | null;
  }
  interface KvListOptions {
    after?: Key | null;
    /** At most this many entries (1..100000; default 1000). */
    limit?: number;
    /** Default true. */
    values?: boolean;
  }
  type KvStep =
    | { op: "put"; key: Key; value: Data }
    | { op: "delete"; key: Key }
    | { op: "check"; key: Key; value: Data }
    | { op: "checkAbsent"; key: Key };
  /** A bucket of the node's durable store (cap kv:BUCKET). Every call waits for the commit. */
  interface Bucket {
    readonly name: string;
    get(key: Key): Uint8Array | null;
    getText(key: Key): string | null;
    getJSON(key: Key): any;
    put(key: Key, value: Data): void;
    /** Whether there was such a key. */
    delete(key: Key): boolean;
    /** Writes value only if the key holds expected (null: is absent); value null deletes. false on a conflict. */
    cas(key: Key, expected: Data | null, value: Data | null): boolean;
    /** Adds delta (default 1) to the decimal integer value (missing: 0); the sum. */
    incr(key: Key, delta?: number): number;
    list(prefix?: Key, opts?: KvListOptions): KvPage;
    entries(prefix?: Key, opts?: { after?: Key | null; values?: boolean }): Generator<KvEntry, void, unknown>;
    /** Atomic: the checks, then the writes; a failed check throws ECONFLICT with `index`, writing nothing. */
    batch(steps: KvStep[]): true;
    close(): void;
  }

  type Strategy = "one_for_one" | "one_for_all" | "rest_for_one" | "simple_one_for_one";
  type Restart = "permanent" | "transient" | "temporary";
  interface ChildSpec {
    id?: string;
    /** An exported function of the app, or its name. */
    start: string | ((...args: any[]) => unknown);
    /** JSON values; for simple_one_for_one, the first arguments of every child. */
    args?: unknown[];
    restart?: Restart;
    /** Milliseconds between the shutdown signal and kill (default 1000). */
    shutdown?: number;
  }
  interface SupervisorSpec {
    strategy?: Strategy;
    /** At most this many restarts (default 3) ... */
    intensity?: number;
    /** ... in this many milliseconds (default 5000), or the supervisor gives up. */
    period?: number;
    children: ChildSpec[];
  }
  interface CallOptions {
    /** Milliseconds (default 5000). */
    timeout?: number;
  }
  interface Supervisor {
    readonly pid: Pid;
    /** The boot server that hands the children their script (ends with the supervisor). */
    readonly server: Pid;
    readonly strategy: Strategy;
    whichChildren(opts?: CallOptions): Pid[];
    /** false if pid is not a live child. */
    terminateChild(pid: Pid, opts?: CallOptions): boolean;
    /** simple_one_for_one: a child with the template's args followed by these. */
    startChild(args?: unknown[], opts?: CallOptions): Pid;
  }

  interface Api {
    self(): Pid;
    parent(): Pid | null;
    readonly isMain: boolean;
    readonly argv: string[];
    readonly script: string;
    /** false if the receiver's mailbox was full (dropped). */
    /** to: a pid, a name registered on this node, or {name, node}: a name registered on that node. */
    send(to: Pid | string | { name: string; node: NodeId }, tag: Tag, data?: Data): boolean;
    receive(opts: ReceiveOptions & { tag: "EXIT" }): ExitMessage | null;
    receive(opts: ReceiveOptions & { tag: "DOWN" }): DownMessage | null;
    receive(opts: ReceiveOptions & { tag: "NODE_UP" | "NODE_DOWN" }): NodeMessage | null;
    receive(opts: ReceiveOptions & { timeout: number }): Received | null;
    receive(opts?: ReceiveOptions): Received;
    spawn(fn: string | ((...args: any[]) => unknown), args?: unknown[], opts?: SpawnOptions & { monitor?: false }): Pid;
    spawn(fn: string | ((...args: any[]) => unknown), args: unknown[], opts: SpawnOptions & { monitor: true }): { pid: Pid; ref: number };
    spawnLink(fn: string | ((...args: any[]) => unknown), args?: unknown[], opts?: SpawnOptions): Pid;
    spawnMonitor(fn: string | ((...args: any[]) => unknown), args?: unknown[], opts?: SpawnOptions): { pid: Pid; ref: number };
    link(pid: Pid): void;
    unlink(pid: Pid): void;
    monitor(pid: Pid): number;
    demonitor(ref: number, flush?: boolean): boolean;
    /** The previous setting. */
    trapExit(on?: boolean): boolean;
    exit(reason?: string, detail?: string): never;
    exitPid(pid: Pid, reason?: string, detail?: string): void;
    kill(pid: Pid): void;
    isAlive(pid: Pid): boolean;
    register(name: string): void;
    unregister(name: string): boolean;
    whereis(name: string): Pid | null;
    /** Starts exported function fn of the Wasm module loaded here as `module` on node `node` (cap spawn), waiting for the answer. args: integers, its parameters. */
    spawnOn(node: NodeId, module: string, fn: string, args?: number[], opts?: SpawnOnOptions & { monitor?: false }): Pid;
    spawnOn(node: NodeId, module: string, fn: string, args: number[], opts: SpawnOnOptions & { monitor: true }): { pid: Pid; ref: number };
    /** This node's id (0 outside a cluster). */
    node(): NodeId;
    /** The other nodes that are up. */
    nodes(): NodeId[];
    /** A node's name, or null if it was never seen. */
    nodeName(node: NodeId): string | null;
    /** NODE_DOWN / NODE_UP messages for that node (on = false: no more). */
    monitorNode(node: NodeId, on?: boolean): void;
    /** Names this process on every node of the cluster (cap registry); EEXISTS if taken. */
    registerGlobal(name: string): void;
    /** false if there was no such name. */
    unregisterGlobal(name: string): boolean;
    whereisGlobal(name: string): Pid | null;
    /** As send, to the process registered globally as name; ENOTFOUND if none. */
    sendGlobal(name: string, tag: Tag, data?: Data): boolean;
    sleep(ms: number): void;
    yield(): void;
    sendAfter(ms: number, to: Pid, tag: Tag, data?: Data): number;
    /** Milliseconds that were left, or null (fired or cancelled). */
    cancelTimer(id: number): number | null;
    setLabel(text: string): void;
    info(pid?: Pid): ProcessInfo | null;
    fetch(url: string, init?: RequestInit): SyncResponse;

    /** The node's durable key-value store (docs/kv.md). */
    readonly kv: { open(bucket: string): Bucket };
    /** The host's supervisors over exported functions of this app. */
    readonly supervisor: { start(spec: SupervisorSpec): Supervisor };
    /** Topics (cap pubsub). */
    subscribe(topic: string): true;
    /** false if this process was not subscribed. */
    unsubscribe(topic: string): boolean;
    /** How many copies went out. The delivery's tag is the topic unless opts.tag says otherwise. */
    publish(topic: string, data?: Data, opts?: { tag?: Tag }): number;
  }

  interface RequestInit {
    method?: string;
    headers?: Record<string, string> | Map<string, string> | Array<[string, string]>;
    body?: Data;
    /** Milliseconds to the head, then between body reads. */
    timeout?: number;
    maxResponse?: number;
  }
  interface Headers {
    get(name: string): string | null;
    has(name: string): boolean;
    forEach(fn: (value: string, name: string, headers: Headers) => void): void;
    [Symbol.iterator](): IterableIterator<[string, string]>;
  }
  /** A fetched body as it arrives, in ReadableStream's shape: a reader,
   * `for await`, or (a rusm extension) `for ... of`. Each chunk is one host
   * read (at most 256 KiB). Once read from, the response's text(), json(),
   * bytes() and arrayBuffer() throw a TypeError. */
  interface ResponseBody extends AsyncIterable<Uint8Array>, Iterable<Uint8Array> {
    /** Whether a reader holds it. */
    readonly locked: boolean;
    /** TypeError if locked, or once the body was read whole. */
    getReader(): BodyReader;
    /** Closes the exchange; the rest of the body is not read. */
    cancel(): Promise<void>;
  }
  interface BodyReader {
    read(): Promise<{ value: Uint8Array; done: false } | { value: undefined; done: true }>;
    cancel(): Promise<void>;
    releaseLock(): void;
  }
  interface SyncResponse {
    readonly status: number;
    readonly ok: boolean;
    readonly headers: Headers;
    readonly body: ResponseBody;
    /** Whether the body was read (whole, or from `body`). */
    readonly bodyUsed: boolean;
    /** The whole body, read on the first call (later ones reuse it). */
    text(): string;
    json(): any;
    bytes(): Uint8Array;
    arrayBuffer(): ArrayBuffer;
  }
  interface Response {
    readonly status: number;
    readonly ok: boolean;
    readonly headers: Headers;
    readonly body: ResponseBody;
    readonly bodyUsed: boolean;
    text(): Promise<string>;
    json(): Promise<any>;
    bytes(): Uint8Array;
    arrayBuffer(): Promise<ArrayBuffer>;
  }

  type BufferSource = ArrayBuffer | ArrayBufferView;
  type HashName = "SHA-256" | "SHA-384" | "SHA-512";
  type HashAlgorithm = HashName | { name: HashName };
  /** digest's hashes: SHA-2, and BLAKE2 as rusm extensions (not in Web Crypto). */
  type DigestName = HashName | "BLAKE2b-512" | "BLAKE2s-256";
  type DigestAlgorithm = DigestName | { name: DigestName };
  type KeyUsage = "sign" | "verify" | "encrypt" | "decrypt" | "deriveBits" | "deriveKey";
  type KeyAlgorithm =
    | { name: "HMAC"; hash: HashAlgorithm; length?: number }
    | "HMAC"
    | { name: "AES-GCM"; length?: number }
    | "AES-GCM"
    | { name: "Ed25519" }
    | "Ed25519"
    | { name: "ECDSA"; namedCurve: "P-256" }
    | { name: "HKDF" }
    | "HKDF"
    | ChaChaAlgorithm;
  /** A rusm extension (not in Web Crypto): ChaCha20-Poly1305 (RFC 8439), 256-bit keys. */
  type ChaChaAlgorithm = { name: "ChaCha20-Poly1305"; length?: 256 } | "ChaCha20-Poly1305";
  type SignAlgorithm = "HMAC" | { name: "HMAC" } | "Ed25519" | { name: "Ed25519" } | { name: "ECDSA"; hash: HashAlgorithm };
  interface AesGcmParams {
    name: "AES-GCM";
    /** 12 bytes. */
    iv: BufferSource;
    additionalData?: BufferSource;
    tagLength?: 128;
  }
  /** A rusm extension, used as AES-GCM is: ciphertext ‖ 16-byte tag. */
  interface ChaCha20Poly1305Params {
    name: "ChaCha20-Poly1305";
    /** 12 bytes. */
    iv: BufferSource;
    additionalData?: BufferSource;
    tagLength?: 128;
  }
  /** RFC 5869; `info` at most 1024 bytes. */
  interface HkdfParams {
    name: "HKDF";
    hash: HashAlgorithm;
    salt: BufferSource;
    info: BufferSource;
  }
  /** What deriveKey derives from HKDF. */
  type DerivedKeyAlgorithm =
    | { name: "HMAC"; hash: HashAlgorithm; length?: number }
    | { name: "AES-GCM"; length: 128 | 256 }
    | ChaChaAlgorithm;
  interface CryptoKey {
    readonly type: "secret" | "public" | "private";
    readonly extractable: boolean;
    readonly algorithm: { name: string; [key: string]: unknown };
    readonly usages: readonly KeyUsage[];
  }
  interface CryptoKeyPair {
    publicKey: CryptoKey;
    privateKey: CryptoKey;
  }
  interface SubtleCrypto {
    digest(algorithm: DigestAlgorithm, data: BufferSource | string): Promise<ArrayBuffer>;
    importKey(format: "raw" | "pkcs8", keyData: BufferSource, algorithm: KeyAlgorithm, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey>;
    generateKey(algorithm: { name: "Ed25519" } | "Ed25519" | { name: "ECDSA"; namedCurve: "P-256" }, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKeyPair>;
    generateKey(algorithm: { name: "HMAC"; hash: HashAlgorithm; length?: number } | { name: "AES-GCM"; length: 128 | 256 } | ChaChaAlgorithm, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey>;
    exportKey(format: "raw" | "pkcs8", key: CryptoKey): Promise<ArrayBuffer>;
    sign(algorithm: SignAlgorithm, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
    verify(algorithm: SignAlgorithm, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean>;
    encrypt(algorithm: AesGcmParams | ChaCha20Poly1305Params, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
    decrypt(algorithm: AesGcmParams | ChaCha20Poly1305Params, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
    /** HKDF: `length` in bits, a multiple of 8. */
    deriveBits(algorithm: HkdfParams, baseKey: CryptoKey, length: number): Promise<ArrayBuffer>;
    deriveKey(algorithm: HkdfParams, baseKey: CryptoKey, derivedKeyType: DerivedKeyAlgorithm, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey>;
  }
  interface Crypto {
    readonly subtle: SubtleCrypto;
    getRandomValues<T extends ArrayBufferView>(array: T): T;
    randomUUID(): string;
  }
  /** A request to an http or sse route that names a script (docs/js.md, "Serving"). */
  interface ServerRequest {
    readonly method: string;
    /** The request target as received ("/users/7?x=1"). */
    readonly url: string;
    readonly path: string;
    /** After "?", "" if none. */
    readonly query: string;
    readonly peer: string;
    /** Lower-case names; repeated headers joined with ", ". */
    readonly headers: Record<string, string>;
    /** A route parameter ("/users/{id}"), percent-decoded. */
    param(name: string): string | undefined;
    /** The body, read to its end (once; later calls reuse it). */
    bytes(): Uint8Array;
    text(): string;
    json(): any;
  }
  /** A chunk of a streamed body: a string (UTF-8) or bytes. */
  type Chunk = string | ArrayBuffer | ArrayBufferView;
  /** What an http handler returns: a string, bytes, {status, headers, body}, or JSON.
   * A body that is an iterable or async iterable of chunks (a generator, a
   * fetched response's body; not an array, which is JSON) is streamed,
   * chunked unless headers has a Content-Length. */
  type ServerResponse =
    | string
    | ArrayBuffer
    | ArrayBufferView
    | { status?: number; headers?: Record<string, string>; body?: Iterable<Chunk> | AsyncIterable<Chunk> }
    | { status?: number; headers?: Record<string, string>; body?: unknown }
    | object
    | number
    | boolean
    | null;
  /** An http handler's second argument: its response, streamed. Once the
   * handler used it, what it returns must be undefined. Every call throws
   * an Error with `code` on failure ("EBADSTATE", "ECLOSED"). A client that
   * leaves ends the handler's process. */
  interface ResponseWriter {
    /** The head: a Content-Length header makes the length known, else the
     * body is chunked. Once only (EBADSTATE). */
    start(status?: number, headers?: Record<string, string>): void;
    /** Body bytes; waits (the process) while the client is slow. Starts a
     * 200 if start() was not called. */
    write(chunk: Chunk): void;
    /** Ends the response, after an optional last chunk; the handler's
     * return ends it too. */
    end(chunk?: Chunk): void;
  }
  /** An sse route's stream. */
  interface ServerEvents {
    /** One event (a string, or anything else as JSON); false once the client has gone. */
    send(data: unknown, event?: string): boolean;
  }
  /** A ws route's connection; its frames arrive with rusm.receive() (tags
   * "WS_TEXT", "WS_BINARY", then one "WS_CLOSE"). */
  interface ServerWebSocket {
    readonly path: string;
    readonly query: string;
    param(name: string): string | undefined;
    header(name: string): string | undefined;
    /** A text message for a string, binary for bytes; false once closing or gone. */
    send(data: string | ArrayBuffer | ArrayBufferView): boolean;
    close(code?: number, reason?: string): void;
  }
  interface Console {
    log(...args: unknown[]): void;
    info(...args: unknown[]): void;
    debug(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
  }
}

declare const rusm: Rusm.Api;
declare const console: Rusm.Console;
declare const crypto: Rusm.Crypto;
declare function fetch(url: string, init?: Rusm.RequestInit): Promise<Rusm.Response>;
declare class TextEncoder {
  readonly encoding: "utf-8";
  encode(s?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: "utf-8" | "utf8");
  readonly encoding: "utf-8";
  decode(bytes?: ArrayBuffer | ArrayBufferView): string;
}
declare class DOMException extends Error {
  constructor(message?: string, name?: string);
}
declare function setTimeout(fn: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function setInterval(fn: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function clearTimeout(id: number): void;
declare function clearInterval(id: number): void;
declare function queueMicrotask(fn: () => void): void;

declare module "rusm" {
  const api: Rusm.Api;
  export default api;
  export type Pid = Rusm.Pid;
  export type Tag = Rusm.Tag;
  export type Message = Rusm.Message;
  export type Received = Rusm.Received;
  export type Bucket = Rusm.Bucket;
  export type Supervisor = Rusm.Supervisor;
  export type ChildSpec = Rusm.ChildSpec;
  export type RusmError = Rusm.RusmError;
  export type ServerRequest = Rusm.ServerRequest;
  export type ServerResponse = Rusm.ServerResponse;
  export type ResponseWriter = Rusm.ResponseWriter;
  export type ResponseBody = Rusm.ResponseBody;
  export type ServerEvents = Rusm.ServerEvents;
  export type ServerWebSocket = Rusm.ServerWebSocket;
  export const self: Rusm.Api["self"];
  export const parent: Rusm.Api["parent"];
  export const isMain: Rusm.Api["isMain"];
  export const argv: Rusm.Api["argv"];
  export const script: Rusm.Api["script"];
  export const send: Rusm.Api["send"];
  export const receive: Rusm.Api["receive"];
  export const spawn: Rusm.Api["spawn"];
  export const spawnLink: Rusm.Api["spawnLink"];
  export const spawnMonitor: Rusm.Api["spawnMonitor"];
  export const link: Rusm.Api["link"];
  export const unlink: Rusm.Api["unlink"];
  export const monitor: Rusm.Api["monitor"];
  export const demonitor: Rusm.Api["demonitor"];
  export const trapExit: Rusm.Api["trapExit"];
  export const exit: Rusm.Api["exit"];
  export const exitPid: Rusm.Api["exitPid"];
  export const kill: Rusm.Api["kill"];
  export const isAlive: Rusm.Api["isAlive"];
  export const register: Rusm.Api["register"];
  export const unregister: Rusm.Api["unregister"];
  export const whereis: Rusm.Api["whereis"];
  export const spawnOn: Rusm.Api["spawnOn"];
  export const node: Rusm.Api["node"];
  export const nodes: Rusm.Api["nodes"];
  export const nodeName: Rusm.Api["nodeName"];
  export const monitorNode: Rusm.Api["monitorNode"];
  export const registerGlobal: Rusm.Api["registerGlobal"];
  export const unregisterGlobal: Rusm.Api["unregisterGlobal"];
  export const whereisGlobal: Rusm.Api["whereisGlobal"];
  export const sendGlobal: Rusm.Api["sendGlobal"];
  export const sleep: Rusm.Api["sleep"];
  export const sendAfter: Rusm.Api["sendAfter"];
  export const cancelTimer: Rusm.Api["cancelTimer"];
  export const setLabel: Rusm.Api["setLabel"];
  export const info: Rusm.Api["info"];
  export const fetch: Rusm.Api["fetch"];
  export const kv: Rusm.Api["kv"];
  export const supervisor: Rusm.Api["supervisor"];
  export const subscribe: Rusm.Api["subscribe"];
  export const unsubscribe: Rusm.Api["unsubscribe"];
  export const publish: Rusm.Api["publish"];
}
