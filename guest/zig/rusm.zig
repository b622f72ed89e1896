//! rusm for Zig guests: processes, messages, links, monitors, the registry,
//! the cluster, topics, timers, supervisors, the node's key-value store,
//! crypto, and HTTP, SSE and WebSocket handlers, over the `rusm` guest ABI
//! (docs/abi.md).
//!
//! Zig 0.11, `wasm32-wasi` (or `wasm32-freestanding`); no dependencies beyond
//! std, and no allocation unless a function takes an allocator. The raw
//! imports are in `sys` (sys.zig), generated from abi/rusm.toml by
//! scripts/abi.py. A process runs an exported function of its module:
//!
//!     export fn worker(boss: u64) void {
//!         var buf: [64]u8 = undefined;
//!         const m = rusm.receive(&buf, .{}) catch return;
//!         rusm.send(rusm.Pid.from(boss), m.tag, m.data) catch {};
//!     }
//!     const pid = try rusm.spawn("worker", &.{rusm.self().id()});
//!
//! Build with `-rdynamic` so that every `export fn` is exported (spawn finds
//! functions by their export name). Every call that can fail returns an
//! error of `Error`, the ABI's codes as a Zig error set.
const std = @import("std");

/// The raw imports, error codes, constants and structs (generated).
pub const sys = @import("sys.zig");

/// The ABI's error codes (docs/abi.md, "Error codes").
pub const Error = sys.Error;

/// The ABI version this SDK was generated for; `abiVersion()` is the host's.
pub const abi_version = sys.ABI_VERSION;

// ---- tags, reasons, capabilities (guest/c/rusm.h) ----------------------------

/// Tags at or above this are the runtime's: a guest cannot send them.
pub const TAG_RESERVED: u64 = 0xFFFF_FFFF_FFFF_FF00;
/// A trapped exit signal (trapExit(true)); decode with Message.exit().
pub const TAG_EXIT: u64 = 0xFFFF_FFFF_FFFF_FF01;
/// A monitored process ended; decode with Message.exit().
pub const TAG_DOWN: u64 = 0xFFFF_FFFF_FFFF_FF02;
/// monitorNode's messages (sys.monitor_node); payload: u16 node id.
pub const TAG_NODE_UP: u64 = 0xFFFF_FFFF_FFFF_FF03;
pub const TAG_NODE_DOWN: u64 = 0xFFFF_FFFF_FFFF_FF04;
/// A supervisor's answer that came after its call timed out: skip it.
pub const TAG_SUPERVISOR_REPLY: u64 = 0xFFFF_FFFF_FFFF_FF17;
/// A spawn_on answer that came after its call timed out.
pub const TAG_SPAWN_REPLY: u64 = 0xFFFF_FFFF_FFFF_FF18;
/// WebSocket frames of a ws route's process.
pub const TAG_WS_TEXT: u64 = 0xFFFF_FFFF_FFFF_FF20;
pub const TAG_WS_BINARY: u64 = 0xFFFF_FFFF_FFFF_FF21;
pub const TAG_WS_CLOSE: u64 = 0xFFFF_FFFF_FFFF_FF22;

/// How a process ended, as EXIT and DOWN messages say.
pub const ExitKind = enum(u32) {
    normal = 0,
    shutdown = 1,
    killed = 2,
    noproc = 4,
    @"error" = 5,
    /// The process was on another node that is not (or no longer) connected.
    noconnection = 6,
    _,
};

/// Why this process exits (exit).
pub const Reason = enum(i32) {
    normal = 0,
    shutdown = 1,
    @"error" = 2,
};

/// An exit signal to another process (exitPid).
pub const Signal = enum(i32) {
    normal = 0,
    shutdown = 1,
    @"error" = 2,
    /// Untrappable.
    kill = 3,
};

/// Capability bits, for SpawnOptions.caps and supervisor children.
pub const caps = struct {
    pub const stdio: u32 = 1 << 0;
    pub const env: u32 = 1 << 1;
    pub const fs: u32 = 1 << 2;
    pub const clock: u32 = 1 << 3;
    pub const random: u32 = 1 << 4;
    pub const spawn: u32 = 1 << 5;
    pub const proc: u32 = 1 << 6;
    pub const registry: u32 = 1 << 7;
    pub const crypto: u32 = 1 << 8;
    pub const pubsub: u32 = 1 << 9;
    pub const kv: u32 = 1 << 10;
};

const spawn_link_flag: u32 = 1;
const spawn_monitor_flag: u32 = 2;
const spawn_trap_exit_flag: u32 = 4;
const spawn_caps_flag: u32 = 8;

// ---- helpers ---------------------------------------------------------------

fn check(r: i32) Error!u32 {
    if (r < 0) return sys.errorFromCode(r);
    return @intCast(r);
}

fn check64(r: i64) Error!u64 {
    if (r < 0) return sys.errorFromCode(@intCast(@max(r, std.math.minInt(i32))));
    return @intCast(r);
}

/// A pid returned as i64: error codes are small negatives; a pid of a node
/// whose id has its top bit set is negative as an i64 too, and is a pid.
fn checkPid(r: i64) Error!Pid {
    if (r < 0 and r >= -4096) return sys.errorFromCode(@intCast(r));
    return Pid.from(@bitCast(r));
}

/// A slice's pointer, or null when it is empty (the host then reads nothing).
fn ptr(s: []const u8) ?[*]const u8 {
    return if (s.len == 0) null else s.ptr;
}

/// A buffer's pointer, or null when it is empty.
fn bufPtr(b: []u8) ?[*]u8 {
    return if (b.len == 0) null else b.ptr;
}

fn len32(s: []const u8) u32 {
    return @intCast(s.len);
}

/// Nanoseconds as the ABI takes them: null (forever) is -1.
fn nanos(timeout_ns: ?u64) i64 {
    const t = timeout_ns orelse return -1;
    return @intCast(@min(t, std.math.maxInt(i64)));
}

// ---- processes --------------------------------------------------------------

/// A process, on this node or another: 64 bits, location-transparent.
/// `.none` (0) is no process.
pub const Pid = enum(u64) {
    none = 0,
    _,

    pub fn from(n: u64) Pid {
        return @enumFromInt(n);
    }

    pub fn id(pid: Pid) u64 {
        return @intFromEnum(pid);
    }

    /// Prints the number, as `rusm ps` shows it.
    pub fn format(pid: Pid, comptime _: []const u8, _: std.fmt.FormatOptions, w: anytype) !void {
        try w.print("{d}", .{@intFromEnum(pid)});
    }
};

/// The host's ABI version (8 for this SDK's definition; later hosts answer more).
pub fn abiVersion() i32 {
    return sys.abi_version();
}

/// This process.
pub fn self() Pid {
    return Pid.from(sys.self());
}

/// The process that spawned this one; .none if the host did.
pub fn parent() Pid {
    return Pid.from(sys.parent());
}

pub fn isAlive(pid: Pid) bool {
    return sys.is_alive(pid.id()) > 0;
}

/// Free text shown by `rusm ps` and process info.
pub fn setLabel(text: []const u8) Error!void {
    _ = try check(sys.set_label(ptr(text), len32(text)));
}

/// Writes `key=value` lines about `pid` into buf (truncated to it); others'
/// info needs cap proc.
pub fn processInfo(pid: Pid, buf: []u8) Error![]u8 {
    const n = try check(sys.process_info(pid.id(), bufPtr(buf), len32(buf)));
    return buf[0..@min(n, buf.len)];
}

/// Fills `out` with up to out.len pids of this node's processes and returns
/// how many there are (cap proc).
pub fn processes(out: []Pid) Error!usize {
    const raw: ?[*]u64 = if (out.len == 0) null else @ptrCast(out.ptr);
    return try check(sys.processes(raw, @intCast(out.len)));
}

/// Options of a spawn.
pub const SpawnOptions = struct {
    /// Link the child to this process (atomically with the spawn).
    link: bool = false,
    /// Monitor the child: Spawned.monitor is the reference of its DOWN.
    monitor: bool = false,
    /// The child starts trapping exits.
    trap_exit: bool = false,
    /// Capabilities the child asks for (`caps.*` bits), never more than this
    /// process's; null inherits.
    caps: ?u32 = null,
    /// 0: unbounded.
    mailbox_bound: u32 = 0,
    /// 0: this process's limit (never more).
    max_memory_pages: u32 = 0,
    label: []const u8 = "",
};

/// A spawned process and, with SpawnOptions.monitor, its monitor's reference.
pub const Spawned = struct {
    pid: Pid,
    monitor: u64,
};

fn spawnOpts(o: SpawnOptions) sys.rusm_spawn_opts {
    var flags: u32 = 0;
    if (o.link) flags |= spawn_link_flag;
    if (o.monitor) flags |= spawn_monitor_flag;
    if (o.trap_exit) flags |= spawn_trap_exit_flag;
    if (o.caps != null) flags |= spawn_caps_flag;
    return .{
        .flags = flags,
        .mailbox_bound = o.mailbox_bound,
        .max_memory_pages = o.max_memory_pages,
        .caps = o.caps orelse 0,
        .label = ptr(o.label),
        .label_len = len32(o.label),
    };
}

fn argsPtr(args: []const u64) ?[*]const u64 {
    return if (args.len == 0) null else args.ptr;
}

/// Starts the exported function `function` of this module in a new process,
/// with `args` (one per i32/i64 parameter; an i32 takes the low half).
/// Cap spawn. error.NotFound (no such export), error.BadArg (argument
/// count), error.Limit (the node could not start it), error.Denied.
pub fn spawnWith(function: []const u8, args: []const u64, o: SpawnOptions) Error!Spawned {
    const opts = spawnOpts(o);
    var out = sys.rusm_spawned{};
    _ = try check(sys.spawn(ptr(function), len32(function), argsPtr(args), @intCast(args.len), &opts, &out));
    return .{ .pid = Pid.from(out.pid), .monitor = out.monitor };
}

pub fn spawn(function: []const u8, args: []const u64) Error!Pid {
    return (try spawnWith(function, args, .{})).pid;
}

/// Spawns linked: if either ends abnormally, the other gets the exit signal.
pub fn spawnLink(function: []const u8, args: []const u64) Error!Pid {
    return (try spawnWith(function, args, .{ .link = true })).pid;
}

/// Spawns monitored: exactly one DOWN message follows the child's end.
pub fn spawnMonitor(function: []const u8, args: []const u64) Error!Spawned {
    return spawnWith(function, args, .{ .monitor = true });
}

/// Spawns `function` of the module registered with the runtime as `module`.
pub fn spawnModule(module: []const u8, function: []const u8, args: []const u64, o: SpawnOptions) Error!Spawned {
    const opts = spawnOpts(o);
    var out = sys.rusm_spawned{};
    _ = try check(sys.spawn_module(ptr(module), len32(module), ptr(function), len32(function), argsPtr(args), @intCast(args.len), &opts, &out));
    return .{ .pid = Pid.from(out.pid), .monitor = out.monitor };
}

/// Links this process to `pid` (cap proc); a dead pid gives an exit signal noproc.
pub fn link(pid: Pid) Error!void {
    _ = try check(sys.link(pid.id()));
}

pub fn unlink(pid: Pid) Error!void {
    _ = try check(sys.unlink(pid.id()));
}

/// Watches `pid`: exactly one DOWN message (TAG_DOWN) follows its end
/// (noproc if it is already dead). Returns the monitor's reference.
pub fn monitor(pid: Pid) Error!u64 {
    return check64(sys.monitor(pid.id()));
}

/// Stops a monitor; with `flush` a DOWN already queued is removed. True if
/// the monitor was active.
pub fn demonitor(ref: u64, flush: bool) bool {
    return sys.demonitor(ref, @intFromBool(flush)) == 1;
}

/// With `on`, exit signals from linked processes arrive as EXIT messages
/// instead of ending this one. Returns the previous setting.
pub fn trapExit(on: bool) Error!bool {
    return (try check(sys.trap_exit(@intFromBool(on)))) != 0;
}

/// Ends this process: links and monitors see `reason` and `detail`
/// (`detail` is ignored for .normal). Never returns.
pub fn exit(reason: Reason, detail: []const u8) noreturn {
    sys.exit(@intFromEnum(reason), ptr(detail), len32(detail));
    unreachable;
}

/// Ends this process with an error reason.
pub fn exitError(detail: []const u8) noreturn {
    exit(.@"error", detail);
}

/// Sends an exit signal to `pid` (cap proc unless it is this process); .kill
/// cannot be trapped. error.Noproc if it is not alive.
pub fn exitPid(pid: Pid, reason: Signal, detail: []const u8) Error!void {
    _ = try check(sys.exit_pid(pid.id(), @intFromEnum(reason), ptr(detail), len32(detail)));
}

/// Kills `pid` (untrappable).
pub fn kill(pid: Pid) Error!void {
    return exitPid(pid, .kill, "");
}

/// Suspends this process (not a worker thread) for `ns` nanoseconds;
/// messages arriving meanwhile stay queued.
pub fn sleep(ns: u64) void {
    sys.sleep(nanos(ns));
}

/// Lets other processes run.
pub fn yieldNow() void {
    sys.yield();
}

// ---- messages -----------------------------------------------------------------

/// How a process ended, as an EXIT or DOWN message says.
pub const Exit = struct {
    from: Pid,
    kind: ExitKind,
    /// The reason's text ("boom", "trap: unreachable in function 3 (f)");
    /// a slice of the message's data, cut short if the message was.
    detail: []const u8,
    /// DOWN: the monitor's reference; EXIT: 0.
    monitor: u64,
};

/// A received message. `data` is what was copied: a slice of the caller's
/// buffer (receive) or an allocation (receiveAlloc).
pub const Message = struct {
    tag: u64,
    from: Pid,
    /// DOWN: the monitor's reference; else the sender's correlation value (0).
    ref: u64,
    /// The payload's full size: more than data.len when the buffer was too
    /// small (read the rest with messageRead before the next receive).
    size: usize,
    data: []u8,

    pub fn truncated(m: Message) bool {
        return m.size > m.data.len;
    }

    /// The payload read as a little-endian integer of type T (null if shorter).
    pub fn int(m: Message, comptime T: type) ?T {
        if (m.data.len < @sizeOf(T)) return null;
        return std.mem.readIntLittle(T, m.data[0..@sizeOf(T)]);
    }

    /// The exit an EXIT or DOWN message reports; null for other messages.
    pub fn exit(m: Message) ?Exit {
        // A DOWN payload is an EXIT payload after the monitor's reference.
        const base: usize = switch (m.tag) {
            TAG_EXIT => 0,
            TAG_DOWN => 8,
            else => return null,
        };
        const ref: u64 = if (base == 8) m.int(u64) orelse return null else 0;
        if (m.data.len < base + 16) return null;
        const d = m.data;
        const detail_len = std.mem.readIntLittle(u32, d[base + 12 ..][0..4]);
        const end = @min(d.len, base + 16 + @as(usize, detail_len));
        return .{
            .from = Pid.from(std.mem.readIntLittle(u64, d[base..][0..8])),
            .kind = @enumFromInt(std.mem.readIntLittle(u32, d[base + 8 ..][0..4])),
            .detail = d[base + 16 .. end],
            .monitor = ref,
        };
    }
};

/// What to wait for.
pub const ReceiveOptions = struct {
    /// Selective receive: the oldest message with this tag; others stay
    /// queued. null: the oldest message.
    tag: ?u64 = null,
    /// Give up after this many nanoseconds (error.Timeout); 0 polls; null
    /// waits as long as it takes.
    timeout_ns: ?u64 = null,
};

/// Sends a copy of `data` to `to`. Sending to a dead process is not an error.
/// error.BadArg (pid .none, a reserved tag), error.Full (the receiver's
/// mailbox or message budget is full: the message was dropped).
pub fn send(to: Pid, tag: u64, data: []const u8) Error!void {
    _ = try check(sys.send(to.id(), tag, ptr(data), len32(data)));
}

/// Sends to the process registered as `name` on this node (cap registry).
pub fn sendName(name: []const u8, tag: u64, data: []const u8) Error!void {
    _ = try check(sys.send_name(ptr(name), len32(name), tag, ptr(data), len32(data)));
}

/// Waits for a message and copies its payload into `buf` (up to buf.len
/// bytes; see Message.size). The process is suspended, not a thread.
pub fn receive(buf: []u8, o: ReceiveOptions) Error!Message {
    var hdr = sys.rusm_msg{};
    const n = try check(sys.receive(o.tag orelse 0, @intFromBool(o.tag != null), nanos(o.timeout_ns), &hdr, bufPtr(buf), len32(buf)));
    return .{
        .tag = hdr.tag,
        .from = Pid.from(hdr.from),
        .ref = hdr.ref,
        .size = n,
        .data = buf[0..@min(n, buf.len)],
    };
}

/// As receive, with the whole payload in memory from `allocator` (the
/// caller frees m.data).
pub fn receiveAlloc(allocator: std.mem.Allocator, o: ReceiveOptions) (Error || std.mem.Allocator.Error)!Message {
    var first: [256]u8 = undefined;
    var m = try receive(&first, o);
    const data = try allocator.alloc(u8, m.size);
    errdefer allocator.free(data);
    @memcpy(data[0..m.data.len], m.data);
    if (m.size > m.data.len) _ = try messageRead(m.data.len, data[m.data.len..]);
    m.data = data;
    return m;
}

/// Copies from the current message's payload (the last one received),
/// from `offset`; returns how many bytes. error.NoMessage, error.BadArg
/// (offset past the end).
pub fn messageRead(offset: usize, dst: []u8) Error!usize {
    return try check(sys.message_read(@intCast(offset), bufPtr(dst), len32(dst)));
}

// ---- the registry -------------------------------------------------------------

/// Names this process on this node (cap registry). error.Exists.
pub fn register(name: []const u8) Error!void {
    _ = try check(sys.register(ptr(name), len32(name)));
}

/// error.NotFound if this process has no name.
pub fn unregister(name: []const u8) Error!void {
    _ = try check(sys.unregister(ptr(name), len32(name)));
}

/// The process registered as `name`, null if none (cap registry).
pub fn whereis(name: []const u8) Error!?Pid {
    const p = try checkPid(sys.whereis(ptr(name), len32(name)));
    return if (p == .none) null else p;
}

// ---- the cluster ----------------------------------------------------------------

/// This node's id (the top 16 bits of its pids; 0 on a node that is not in
/// a cluster).
pub fn nodeSelf() u16 {
    return @intCast(sys.node_self());
}

/// Fills `out` with up to out.len ids of the other nodes that are up and
/// returns how many there are.
pub fn nodes(out: []u32) Error!usize {
    const raw: ?[*]u32 = if (out.len == 0) null else out.ptr;
    return try check(sys.nodes(raw, @intCast(out.len)));
}

/// A node's name (this node's, or a peer's as it said when it connected),
/// cut to buf. error.NotFound if it was never seen.
pub fn nodeName(node: u16, buf: []u8) Error![]u8 {
    const n = try check(sys.node_name(node, bufPtr(buf), len32(buf)));
    return buf[0..@min(n, buf.len)];
}

/// With `on`, a TAG_NODE_DOWN message each time `node` goes down and a
/// TAG_NODE_UP each time it comes up (a NODE_DOWN at once if it is not up);
/// off stops them.
pub fn monitorNode(node: u16, on: bool) Error!void {
    _ = try check(sys.monitor_node(node, @intFromBool(on)));
}

/// Spawns `function` of the module registered here as `module` on node
/// `node` (this node's id: here), waiting for the answer at most
/// `timeout_ns` (null: until it comes or the node goes down). Cap spawn.
/// error.NoConn, error.Denied, error.NotFound, error.Timeout.
pub fn spawnOn(node: u16, module: []const u8, function: []const u8, args: []const u64, o: SpawnOptions, timeout_ns: ?u64) Error!Spawned {
    const opts = spawnOpts(o);
    var out = sys.rusm_spawned{};
    _ = try check(sys.spawn_on(node, ptr(module), len32(module), ptr(function), len32(function), argsPtr(args), @intCast(args.len), &opts, &out, nanos(timeout_ns)));
    return .{ .pid = Pid.from(out.pid), .monitor = out.monitor };
}

/// To the process registered as `name` on node `node` (Erlang's
/// {Name, Node} ! Msg). Cap registry. error.NotFound (no such name here),
/// error.NoConn.
pub fn sendNamed(node: u16, name: []const u8, tag: u64, data: []const u8) Error!void {
    _ = try check(sys.send_named(node, ptr(name), len32(name), tag, ptr(data), len32(data)));
}

/// Names this process on every node of the cluster (cap registry).
/// error.Exists, error.BadArg (empty or over 255 bytes), error.NoConn.
pub fn registerGlobal(name: []const u8) Error!void {
    _ = try check(sys.register_global(ptr(name), len32(name)));
}

/// Drops a global name, whichever process holds it. error.NotFound.
pub fn unregisterGlobal(name: []const u8) Error!void {
    _ = try check(sys.unregister_global(ptr(name), len32(name)));
}

/// The process (of any node) registered globally as `name`; null if none.
pub fn whereisGlobal(name: []const u8) Error!?Pid {
    const p = try checkPid(sys.whereis_global(ptr(name), len32(name)));
    return if (p == .none) null else p;
}

/// To the process registered globally as `name`. error.NotFound.
pub fn sendGlobal(name: []const u8, tag: u64, data: []const u8) Error!void {
    _ = try check(sys.send_global(ptr(name), len32(name), tag, ptr(data), len32(data)));
}

// ---- topics ---------------------------------------------------------------------

/// Subscribes this process to `topic` (1 to 255 bytes; twice is once): every
/// message published on it, from any node of the cluster, arrives as a plain
/// message from its publisher (cap pubsub).
pub fn subscribe(topic: []const u8) Error!void {
    _ = try check(sys.subscribe(ptr(topic), len32(topic)));
}

/// error.NotFound if this process was not subscribed.
pub fn unsubscribe(topic: []const u8) Error!void {
    _ = try check(sys.unsubscribe(ptr(topic), len32(topic)));
}

/// Sends a copy to every subscriber of `topic`; returns how many copies went
/// out (this node's subscribers, plus one per other node with subscribers).
pub fn publish(topic: []const u8, tag: u64, data: []const u8) Error!usize {
    return try check(sys.publish(ptr(topic), len32(topic), tag, ptr(data), len32(data)));
}

// ---- timers ---------------------------------------------------------------------

/// Sends `data` to `to` with `tag` after `delay_ns` nanoseconds; returns the
/// timer's id. The pending timer counts against this process's message
/// budget (error.Limit past it) and is cancelled when the process exits.
pub fn sendAfter(delay_ns: u64, to: Pid, tag: u64, data: []const u8) Error!u64 {
    return check64(sys.send_after(nanos(delay_ns), to.id(), tag, ptr(data), len32(data)));
}

/// Cancels a timer: the nanoseconds that were left, or null if it already
/// fired or was cancelled.
pub fn cancelTimer(timer: u64) ?u64 {
    const left = sys.cancel_timer(@intCast(timer));
    return if (left < 0) null else @intCast(left);
}

// ---- supervisors ----------------------------------------------------------------

pub const Strategy = enum(u32) {
    one_for_one = 0,
    one_for_all = 1,
    rest_for_one = 2,
    /// One template child; children are added by Supervisor.startChild.
    simple_one_for_one = 3,
};

pub const Restart = enum(u32) {
    permanent = 0,
    /// Restarted only after an abnormal exit.
    transient = 1,
    temporary = 2,
};

/// A supervisor's child: the exported function `function` of this module
/// (or of the module registered as `module`) with `args`.
pub const ChildSpec = struct {
    id: []const u8,
    function: []const u8,
    args: []const u64 = &.{},
    restart: Restart = .permanent,
    /// How long a shutdown signal may take before the child is killed.
    shutdown_ms: u32 = 1000,
    module: []const u8 = "",
    /// Capabilities (`caps.*`), never more than the caller's; null inherits.
    caps: ?u32 = null,
};

pub const SupervisorOptions = struct {
    strategy: Strategy = .one_for_one,
    /// More than max_restarts restarts within max_seconds_ms end the supervisor.
    max_restarts: u32 = 3,
    max_seconds_ms: u32 = 5000,
};

/// The most children a spec given to Supervisor.start may have (the spec
/// is built on the stack).
pub const max_supervisor_children = 64;

/// A supervisor process (docs/abi.md, "Supervisor spec"). Its calls wait
/// (suspended) for its answer, at most `timeout_ns` (null: until it answers
/// or dies: error.Noproc).
pub const Supervisor = struct {
    pid: Pid,

    /// Starts a supervisor linked to this process, with its children
    /// (cap spawn). error.BadArg (a bad spec, more than
    /// max_supervisor_children), error.NotFound (no such function or module).
    pub fn start(o: SupervisorOptions, children: []const ChildSpec) Error!Supervisor {
        if (children.len > max_supervisor_children) return error.BadArg;
        const Spec = extern struct {
            header: sys.rusm_sup_header,
            children: [max_supervisor_children]sys.rusm_child_spec,
        };
        var spec: Spec = undefined;
        spec.header = .{
            .strategy = @intFromEnum(o.strategy),
            .max_restarts = o.max_restarts,
            .max_seconds_ms = o.max_seconds_ms,
            .nchildren = @intCast(children.len),
        };
        for (children, spec.children[0..children.len]) |c, *s| {
            s.* = .{
                .id = ptr(c.id),
                .id_len = len32(c.id),
                .module = ptr(c.module),
                .module_len = len32(c.module),
                .@"fn" = ptr(c.function),
                .fn_len = len32(c.function),
                .args = argsPtr(c.args),
                .nargs = @intCast(c.args.len),
                .restart = @intFromEnum(c.restart),
                .shutdown_ms = c.shutdown_ms,
                .flags = if (c.caps != null) spawn_caps_flag else 0,
                .caps = c.caps orelse 0,
            };
        }
        const size = @sizeOf(sys.rusm_sup_header) + children.len * @sizeOf(sys.rusm_child_spec);
        const bytes: [*]const u8 = @ptrCast(&spec);
        return .{ .pid = try checkPid(sys.supervisor_start(bytes, @intCast(size))) };
    }

    /// simple_one_for_one: starts a child from the template, with the
    /// template's arguments followed by `args`.
    pub fn startChild(sup: Supervisor, args: []const u64, timeout_ns: ?u64) Error!Pid {
        return checkPid(sys.supervisor_start_child(@bitCast(sup.pid.id()), argsPtr(args), @intCast(args.len), nanos(timeout_ns)));
    }

    /// Stops a child (shutdown, then kill after its shutdown time); it is not
    /// restarted. error.NotFound if it is not a live child.
    pub fn terminateChild(sup: Supervisor, child: Pid, timeout_ns: ?u64) Error!void {
        _ = try check(sys.supervisor_terminate_child(@bitCast(sup.pid.id()), @bitCast(child.id()), nanos(timeout_ns)));
    }

    /// The live children in start order: fills `out` with up to out.len
    /// and returns how many there are (more than out.len if it was short).
    pub fn whichChildren(sup: Supervisor, out: []Pid, timeout_ns: ?u64) Error!usize {
        const raw: ?[*]u64 = if (out.len == 0) null else @ptrCast(out.ptr);
        return try check(sys.supervisor_which_children(@bitCast(sup.pid.id()), raw, @intCast(out.len), nanos(timeout_ns)));
    }
};

// ---- the key-value store ----------------------------------------------------------

/// A bucket of the node's durable key-value store (docs/kv.md). Every call
/// but open and close suspends the process until the store committed it:
/// a call that returned is on disk.
pub const Bucket = struct {
    handle: i32,

    /// A bucket this process was granted (`--allow kv:NAME`): error.Denied
    /// otherwise, error.NotSupported if the node has no store.
    pub fn open(name: []const u8) Error!Bucket {
        return .{ .handle = @intCast(try check(sys.kv_open(ptr(name), len32(name)))) };
    }

    /// Gives the handle back (it also goes when the process exits).
    pub fn close(bucket: Bucket) void {
        _ = sys.kv_close(bucket.handle);
    }

    /// The value of `key` copied into `buf`, or null if there is none.
    /// error.BufferTooSmall if the value is longer than buf (getAlloc reads
    /// any length).
    pub fn get(bucket: Bucket, key: []const u8, buf: []u8) (Error || error{BufferTooSmall})!?[]u8 {
        const r = sys.kv_get(bucket.handle, ptr(key), len32(key), bufPtr(buf), len32(buf));
        if (r == sys.ENOTFOUND) return null;
        const n = try check(r);
        if (n > buf.len) return error.BufferTooSmall;
        return buf[0..n];
    }

    /// The value of `key` in memory from `allocator` (the caller frees it),
    /// or null if there is none.
    pub fn getAlloc(bucket: Bucket, allocator: std.mem.Allocator, key: []const u8) (Error || std.mem.Allocator.Error)!?[]u8 {
        var buf = try allocator.alloc(u8, 256);
        errdefer allocator.free(buf);
        while (true) {
            const r = sys.kv_get(bucket.handle, ptr(key), len32(key), bufPtr(buf), len32(buf));
            if (r == sys.ENOTFOUND) {
                allocator.free(buf);
                return null;
            }
            const n = try check(r);
            if (n <= buf.len) {
                if (allocator.resize(buf, n)) return buf[0..n];
                const exact = try allocator.dupe(u8, buf[0..n]);
                allocator.free(buf);
                return exact;
            }
            // Longer than the buffer (it may grow again between calls: ask again).
            buf = try allocator.realloc(buf, n);
        }
    }

    /// error.Denied for a read-only grant; error.TooLarge past the store's
    /// key or value limits.
    pub fn put(bucket: Bucket, key: []const u8, value: []const u8) Error!void {
        _ = try check(sys.kv_put(bucket.handle, ptr(key), len32(key), ptr(value), len32(value)));
    }

    /// False if there was no such key.
    pub fn delete(bucket: Bucket, key: []const u8) Error!bool {
        const r = sys.kv_delete(bucket.handle, ptr(key), len32(key));
        if (r == sys.ENOTFOUND) return false;
        _ = try check(r);
        return true;
    }

    /// Writes `value` only if the key holds `expected` (null: only if it is
    /// absent). False if it holds something else (nothing written).
    pub fn cas(bucket: Bucket, key: []const u8, expected: ?[]const u8, value: []const u8) Error!bool {
        const e = expected orelse "";
        const flags: i32 = if (expected == null) sys.KV_IF_ABSENT else 0;
        const r = sys.kv_cas(bucket.handle, ptr(key), len32(key), ptr(e), len32(e), ptr(value), len32(value), flags);
        if (r == sys.ECONFLICT) return false;
        _ = try check(r);
        return true;
    }

    /// Deletes the key only if it holds `expected`; false otherwise.
    pub fn casDelete(bucket: Bucket, key: []const u8, expected: []const u8) Error!bool {
        const r = sys.kv_cas(bucket.handle, ptr(key), len32(key), ptr(expected), len32(expected), null, 0, sys.KV_DELETE);
        if (r == sys.ECONFLICT) return false;
        _ = try check(r);
        return true;
    }

    /// Adds `delta` to the value read as a decimal integer (a missing key is
    /// 0) and returns the sum. error.BadState (not an integer), error.Limit
    /// (overflow).
    pub fn incr(bucket: Bucket, key: []const u8, delta: i64) Error!i64 {
        var out: i64 = 0;
        _ = try check(sys.kv_incr(bucket.handle, ptr(key), len32(key), delta, @ptrCast(&out)));
        return out;
    }

    /// One page of the keys that start with `prefix` and sort after `after`
    /// (bytewise; "" from the first), as many as fit in `buf` (at most 1000),
    /// with their values if `values`. An empty page is the end; page on with
    /// the last key as `after` (copy it first: it points into buf).
    /// error.TooLarge if the first entry does not fit in buf.
    pub fn list(bucket: Bucket, prefix: []const u8, after: []const u8, buf: []u8, values: bool) Error!ListPage {
        const flags: i32 = if (values) sys.KV_VALUES else 0;
        const n = try check(sys.kv_list(bucket.handle, ptr(prefix), len32(prefix), ptr(after), len32(after), bufPtr(buf), len32(buf), flags));
        return .{ .count = n, .buf = buf, .values = values };
    }

    /// Runs the steps atomically: every check first; if one fails nothing is
    /// written and the result is .{ .conflict = its index }. `scratch` holds
    /// the encoded steps (each 12 bytes plus its key and value);
    /// error.BufferTooSmall if they do not fit.
    pub fn batch(bucket: Bucket, ops: []const BatchOp, scratch: []u8) (Error || error{BufferTooSmall})!BatchResult {
        var at: usize = 0;
        for (ops) |op| {
            const value = switch (op.kind) {
                .put, .check => op.value,
                .delete, .check_absent => "",
            };
            const need = @sizeOf(sys.rusm_kv_op) + op.key.len + value.len;
            if (scratch.len - at < need) return error.BufferTooSmall;
            const head = sys.rusm_kv_op{ .kind = @intFromEnum(op.kind), .key_len = len32(op.key), .value_len = len32(value) };
            @memcpy(scratch[at..][0..@sizeOf(sys.rusm_kv_op)], std.mem.asBytes(&head));
            at += @sizeOf(sys.rusm_kv_op);
            @memcpy(scratch[at..][0..op.key.len], op.key);
            at += op.key.len;
            @memcpy(scratch[at..][0..value.len], value);
            at += value.len;
        }
        var failed: i32 = 0;
        const r = sys.kv_batch(bucket.handle, bufPtr(scratch), @intCast(at), @ptrCast(&failed));
        if (r == sys.ECONFLICT) return .{ .conflict = @intCast(failed) };
        _ = try check(r);
        return .ok;
    }
};

/// A step of Bucket.batch.
pub const BatchOp = struct {
    kind: Kind,
    key: []const u8,
    /// put: the value to write; check: the value the key must hold.
    value: []const u8 = "",

    pub const Kind = enum(u32) {
        put = 1,
        /// A missing key is fine.
        delete = 2,
        /// The key must hold `value`.
        check = 3,
        /// The key must be absent.
        check_absent = 4,
    };
};

pub const BatchResult = union(enum) {
    ok,
    /// The index of the check that failed; nothing was written.
    conflict: usize,
};

/// One page of Bucket.list: iterate with next().
pub const ListPage = struct {
    count: usize,
    buf: []u8,
    values: bool,
    at: usize = 0,
    seen: usize = 0,

    pub const Entry = struct {
        key: []const u8,
        /// Empty unless the page was asked with values.
        value: []const u8,
    };

    pub fn next(page: *ListPage) ?Entry {
        if (page.seen == page.count) return null;
        const head = page.buf[page.at..][0..@sizeOf(sys.rusm_kv_entry)];
        const key_len = std.mem.readIntLittle(u32, head[0..4]);
        const value_len = std.mem.readIntLittle(u32, head[4..8]);
        var at = page.at + head.len;
        const key = page.buf[at..][0..key_len];
        at += key_len;
        var value: []const u8 = "";
        if (page.values) {
            value = page.buf[at..][0..value_len];
            at += value_len;
        }
        page.at = at;
        page.seen += 1;
        return .{ .key = key, .value = value };
    }
};

// ---- crypto -----------------------------------------------------------------------

/// Digests, MACs, key derivation, AEAD, signatures and secure random bytes,
/// computed in the host (docs/crypto.md). Every call needs cap crypto
/// (error.Denied). Calls that write return the bytes written, a slice of
/// `out`; an `out` too small is error.BadArg.
pub const crypto = struct {
    pub const Hash = enum(i32) {
        sha256 = sys.HASH_SHA256,
        sha384 = sys.HASH_SHA384,
        sha512 = sys.HASH_SHA512,
        blake2b512 = sys.HASH_BLAKE2B512,
        blake2s256 = sys.HASH_BLAKE2S256,
    };

    pub const KeyKind = enum(i32) {
        aes128_gcm = sys.KEY_AES128_GCM,
        aes256_gcm = sys.KEY_AES256_GCM,
        chacha20_poly1305 = sys.KEY_CHACHA20_POLY1305,
        ed25519 = sys.KEY_ED25519,
        ecdsa_p256 = sys.KEY_ECDSA_P256,
    };

    fn written(n: i32, out: []u8) Error![]u8 {
        return out[0..@min(try check(n), out.len)];
    }

    /// Fills `buf` from the host's CSPRNG.
    pub fn random(buf: []u8) Error!void {
        _ = try check(sys.crypto_random(bufPtr(buf), len32(buf)));
    }

    pub fn digest(alg: Hash, data: []const u8, out: []u8) Error![]u8 {
        return written(sys.crypto_digest(@intFromEnum(alg), ptr(data), len32(data), bufPtr(out), len32(out)), out);
    }

    pub fn hmac(alg: Hash, key: []const u8, data: []const u8, out: []u8) Error![]u8 {
        return written(sys.crypto_hmac(@intFromEnum(alg), ptr(key), len32(key), ptr(data), len32(data), bufPtr(out), len32(out)), out);
    }

    /// RFC 5869: fills all of `out` (at most 255 times the hash's size).
    pub fn hkdf(alg: Hash, ikm: []const u8, salt: []const u8, info: []const u8, out: []u8) Error!void {
        _ = try check(sys.crypto_hkdf(@intFromEnum(alg), ptr(ikm), len32(ikm), ptr(salt), len32(salt), ptr(info), len32(info), bufPtr(out), len32(out)));
    }

    /// In time independent of where they differ (false for different lengths).
    pub fn equal(a: []const u8, b: []const u8) bool {
        if (a.len != b.len) return false;
        return sys.crypto_equal(ptr(a), ptr(b), len32(a)) == 1;
    }

    /// Checks a signature made by Key.sign with the public key Key.public
    /// gives: false if it does not verify.
    pub fn verify(kind: KeyKind, public_key: []const u8, data: []const u8, signature: []const u8) Error!bool {
        const r = sys.crypto_verify(@intFromEnum(kind), ptr(public_key), len32(public_key), ptr(data), len32(data), ptr(signature), len32(signature));
        if (r == sys.EAUTH) return false;
        _ = try check(r);
        return true;
    }

    /// A key held by the host, named by a handle of this process (gone,
    /// wiped, at its exit).
    pub const Key = struct {
        handle: i32,

        fn flags(exportable: bool) i32 {
            return if (exportable) sys.KEY_EXPORTABLE else 0;
        }

        /// error.Limit when the process holds 4096 handles.
        pub fn generate(kind: KeyKind, exportable: bool) Error!Key {
            return .{ .handle = @intCast(try check(sys.crypto_key_generate(@intFromEnum(kind), flags(exportable)))) };
        }

        /// AEAD: the raw 16 or 32 bytes; Ed25519: the 32-byte private key;
        /// P-256: PKCS#8 DER. error.BadArg if the bytes are not one.
        pub fn import(kind: KeyKind, bytes: []const u8, exportable: bool) Error!Key {
            return .{ .handle = @intCast(try check(sys.crypto_key_import(@intFromEnum(kind), flags(exportable), ptr(bytes), len32(bytes)))) };
        }

        /// The key's bytes in the form import takes; error.Denied unless it
        /// was made exportable.
        pub fn exportBytes(key: Key, out: []u8) Error![]u8 {
            return written(sys.crypto_key_export(key.handle, bufPtr(out), len32(out)), out);
        }

        /// Ed25519: 32 bytes; P-256: the 65-byte uncompressed point.
        pub fn public(key: Key, out: []u8) Error![]u8 {
            return written(sys.crypto_key_public(key.handle, bufPtr(out), len32(out)), out);
        }

        /// Forgets the key and wipes its bytes.
        pub fn drop(key: Key) void {
            _ = sys.crypto_key_drop(key.handle);
        }

        /// AEAD: the ciphertext followed by the 16-byte tag. The nonce is 12
        /// bytes; never use one twice with a key.
        pub fn seal(key: Key, nonce: []const u8, aad: []const u8, plaintext: []const u8, out: []u8) Error![]u8 {
            return written(sys.crypto_seal(key.handle, ptr(nonce), len32(nonce), ptr(aad), len32(aad), ptr(plaintext), len32(plaintext), bufPtr(out), len32(out)), out);
        }

        /// The plaintext, or error.Auth (nothing written) if the ciphertext,
        /// tag, nonce or associated data do not match.
        pub fn open(key: Key, nonce: []const u8, aad: []const u8, ciphertext: []const u8, out: []u8) Error![]u8 {
            return written(sys.crypto_open(key.handle, ptr(nonce), len32(nonce), ptr(aad), len32(aad), ptr(ciphertext), len32(ciphertext), bufPtr(out), len32(out)), out);
        }

        /// A 64-byte signature: Ed25519, or ECDSA P-256 over SHA-256 as r || s.
        pub fn sign(key: Key, data: []const u8, out: []u8) Error![]u8 {
            return written(sys.crypto_sign(key.handle, ptr(data), len32(data), bufPtr(out), len32(out)), out);
        }
    };
};

// ---- outbound HTTP(S): fetch (docs/fetch.md) -----------------------------------

/// A request for `fetch`. Only hosts granted with `--allow-net HOST:PORT`
/// are reachable (error.Denied otherwise); the host sets Host,
/// Content-Length and Connection itself (error.BadArg if `headers` does).
pub const FetchRequest = struct {
    method: []const u8 = "", // empty: GET
    url: []const u8,
    headers: []const u8 = "", // "Name: value\r\n" each
    body: []const u8 = "",
    timeout_ms: u32 = 0, // 0: the node's (30 s)
    max_response: u32 = 0, // body bytes at most; 0: the node's cap
};

/// A response whose head has arrived; read its body with `read` until it
/// returns 0, then `close` it (it also goes when the process exits).
pub const Response = struct {
    handle: i32,
    status: u32,
    content_length: ?u64,

    /// The headers ("Name: value\r\n" each), in memory from `allocator`
    /// (the caller frees it).
    pub fn headers(r: Response, allocator: std.mem.Allocator) (Error || std.mem.Allocator.Error)![]u8 {
        const hdr = @sizeOf(sys.rusm_fetch_response);
        var probe: [hdr]u8 = undefined;
        const n = try check(sys.fetch_head(r.handle, &probe, hdr));
        var all = try allocator.alloc(u8, n);
        defer allocator.free(all);
        _ = try check(sys.fetch_head(r.handle, all.ptr, n));
        return allocator.dupe(u8, all[hdr..]);
    }

    /// Body bytes into buf, waiting until some arrive; 0 at the end.
    /// error.Timeout, error.TooLarge (past the cap), error.Io.
    pub fn read(r: Response, buf: []u8) Error!usize {
        if (buf.len == 0) return 0;
        return try check(sys.fetch_read(r.handle, bufPtr(buf), len32(buf)));
    }

    /// The whole body, in memory from `allocator` (the caller frees it).
    pub fn readAll(r: Response, allocator: std.mem.Allocator) (Error || std.mem.Allocator.Error)![]u8 {
        var out = std.ArrayList(u8).init(allocator);
        errdefer out.deinit();
        var chunk: [16384]u8 = undefined;
        while (true) {
            const n = try r.read(&chunk);
            if (n == 0) return out.toOwnedSlice();
            try out.appendSlice(chunk[0..n]);
        }
    }

    pub fn close(r: Response) void {
        _ = sys.fetch_close(r.handle);
    }
};

/// Sends `req` and waits (the process, not the thread) for the response's
/// head. error.Denied (host not granted, or a local address it does not
/// name), error.NoConn, error.Timeout, error.Auth (certificate), error.Io,
/// error.TooLarge, error.BadArg.
pub fn fetch(allocator: std.mem.Allocator, req: FetchRequest) (Error || std.mem.Allocator.Error)!Response {
    const head = sys.rusm_fetch_request{
        .method_len = len32(req.method),
        .url_len = len32(req.url),
        .headers_len = len32(req.headers),
        .body_len = len32(req.body),
        .timeout_ms = req.timeout_ms,
        .max_response = req.max_response,
    };
    const size = @sizeOf(sys.rusm_fetch_request) + req.method.len + req.url.len + req.headers.len + req.body.len;
    var buf = try allocator.alloc(u8, size);
    defer allocator.free(buf);
    @memcpy(buf[0..@sizeOf(sys.rusm_fetch_request)], std.mem.asBytes(&head));
    var at: usize = @sizeOf(sys.rusm_fetch_request);
    for ([_][]const u8{ req.method, req.url, req.headers, req.body }) |part| {
        @memcpy(buf[at .. at + part.len], part);
        at += part.len;
    }
    const handle: i32 = @intCast(try check(sys.fetch(buf.ptr, len32(buf))));
    var resp: sys.rusm_fetch_response = undefined;
    _ = sys.fetch_head(handle, @ptrCast(&resp), @sizeOf(sys.rusm_fetch_response));
    return .{
        .handle = handle,
        .status = resp.status,
        .content_length = if (resp.content_length == std.math.maxInt(u64)) null else resp.content_length,
    };
}

// ---- serving: HTTP and SSE handlers ---------------------------------------------

/// An HTTP (or SSE) route's handler process gets its request's handle as the
/// argument of its entry (`export fn handle(req: i32) void`; docs/serve.md).
/// Strings are copied into the caller's buffer, cut to its length.
pub const Request = struct {
    handle: i32,

    pub fn from(handle: i32) Request {
        return .{ .handle = handle };
    }

    fn copied(n: i32, buf: []u8) Error![]u8 {
        const len = try check(n);
        return buf[0..@min(len, buf.len)];
    }

    /// GET, POST, ... as received.
    pub fn method(req: Request, buf: []u8) Error![]u8 {
        return copied(sys.http_method(req.handle, bufPtr(buf), len32(buf)), buf);
    }

    /// The target as received (`/users/7?x=1`).
    pub fn target(req: Request, buf: []u8) Error![]u8 {
        return copied(sys.http_target(req.handle, bufPtr(buf), len32(buf)), buf);
    }

    /// The target up to `?`, still percent-encoded.
    pub fn path(req: Request, buf: []u8) Error![]u8 {
        return copied(sys.http_path(req.handle, bufPtr(buf), len32(buf)), buf);
    }

    /// After `?` (empty if none).
    pub fn query(req: Request, buf: []u8) Error![]u8 {
        return copied(sys.http_query(req.handle, bufPtr(buf), len32(buf)), buf);
    }

    /// The first header called `name` (case-insensitive), null if none.
    pub fn header(req: Request, name: []const u8, buf: []u8) Error!?[]u8 {
        const r = sys.http_header(req.handle, ptr(name), len32(name), bufPtr(buf), len32(buf));
        if (r == sys.ENOTFOUND) return null;
        return try copied(r, buf);
    }

    /// A route parameter (`/users/{id}` -> "id"), percent-decoded; null if none.
    pub fn param(req: Request, name: []const u8, buf: []u8) Error!?[]u8 {
        const r = sys.http_param(req.handle, ptr(name), len32(name), bufPtr(buf), len32(buf));
        if (r == sys.ENOTFOUND) return null;
        return try copied(r, buf);
    }

    /// The next body bytes into buf (not empty); 0 at the end of the body.
    /// error.TooLarge past the route's body limit, error.Closed.
    pub fn read(req: Request, buf: []u8) Error!usize {
        return try check(sys.http_read(req.handle, bufPtr(buf), len32(buf)));
    }

    /// Status, headers (`Name: value\n` lines) and body in one call.
    pub fn respond(req: Request, status: u16, headers: []const u8, body: []const u8) Error!void {
        _ = try check(sys.http_respond(req.handle, status, ptr(headers), len32(headers), ptr(body), len32(body)));
    }

    /// Starts a streamed response: `content_length` null sends it chunked.
    pub fn start(req: Request, status: u16, headers: []const u8, content_length: ?u64) Error!void {
        const cl: i64 = if (content_length) |n| @intCast(n) else -1;
        _ = try check(sys.http_start(req.handle, status, ptr(headers), len32(headers), cl));
    }

    /// Appends body bytes; waits (suspended) while the client is slow.
    pub fn write(req: Request, data: []const u8) Error!void {
        _ = try check(sys.http_write(req.handle, ptr(data), len32(data)));
    }

    /// Ends a streamed response (also done when the process ends normally).
    pub fn finish(req: Request) Error!void {
        _ = try check(sys.http_finish(req.handle));
    }

    /// Server-Sent Events: starts the stream (200, text/event-stream).
    pub fn startEvents(req: Request, headers: []const u8) Error!void {
        _ = try check(sys.http_start_events(req.handle, ptr(headers), len32(headers)));
    }

    /// One event (`event` "" sends none), its data split into `data:` lines.
    pub fn sendEvent(req: Request, event: []const u8, data: []const u8) Error!void {
        _ = try check(sys.http_send_event(req.handle, ptr(event), len32(event), ptr(data), len32(data)));
    }
};

// ---- serving: WebSocket handlers ------------------------------------------------

/// A ws route's handler process gets its connection's handle as the argument
/// of its entry (`export fn handle(ws: i32) void`). Frames arrive as mailbox
/// messages (TAG_WS_TEXT, TAG_WS_BINARY, then one TAG_WS_CLOSE), so one
/// receive loop takes frames and other processes' messages alike; decode
/// them with WebSocket.frame.
pub const WebSocket = struct {
    handle: i32,

    pub fn from(handle: i32) WebSocket {
        return .{ .handle = handle };
    }

    /// What a received message is to a ws handler.
    pub const Frame = union(enum) {
        text: []u8,
        binary: []u8,
        /// The connection ended: the peer's, the server's or the guest's
        /// own close code (1006 if it dropped), and the reason. Nothing
        /// follows it.
        close: struct { code: u16, reason: []u8 },
    };

    /// The frame a message carries; null for other processes' messages.
    pub fn frame(m: Message) ?Frame {
        return switch (m.tag) {
            TAG_WS_TEXT => .{ .text = m.data },
            TAG_WS_BINARY => .{ .binary = m.data },
            TAG_WS_CLOSE => .{ .close = .{
                .code = if (m.data.len >= 2) std.mem.readIntLittle(u16, m.data[0..2]) else 1005,
                .reason = if (m.data.len >= 2) m.data[2..] else m.data[0..0],
            } },
            else => null,
        };
    }

    fn send(ws: WebSocket, text: bool, data: []const u8) Error!void {
        _ = try check(sys.ws_send(ws.handle, @intFromBool(text), ptr(data), len32(data)));
    }

    /// Sends one text message (valid UTF-8); waits (suspended) while the
    /// connection's write buffer is full. error.Closed once it is closing.
    pub fn sendText(ws: WebSocket, data: []const u8) Error!void {
        return ws.send(true, data);
    }

    pub fn sendBinary(ws: WebSocket, data: []const u8) Error!void {
        return ws.send(false, data);
    }

    /// A ping (payload at most 125 bytes); does not wait.
    pub fn ping(ws: WebSocket, data: []const u8) Error!void {
        _ = try check(sys.ws_ping(ws.handle, ptr(data), len32(data)));
    }

    /// Starts the close handshake (code 1000-1014 but 1004-1006, or
    /// 3000-4999; reason at most 123 bytes); the TAG_WS_CLOSE message follows.
    pub fn close(ws: WebSocket, code: u16, reason: []const u8) Error!void {
        _ = try check(sys.ws_close(ws.handle, code, ptr(reason), len32(reason)));
    }

    fn copied(n: i32, buf: []u8) Error![]u8 {
        return buf[0..@min(try check(n), buf.len)];
    }

    /// The upgrade request's path, still percent-encoded.
    pub fn path(ws: WebSocket, buf: []u8) Error![]u8 {
        return copied(sys.ws_path(ws.handle, bufPtr(buf), len32(buf)), buf);
    }

    /// The upgrade request's query, without `?` (empty if none).
    pub fn query(ws: WebSocket, buf: []u8) Error![]u8 {
        return copied(sys.ws_query(ws.handle, bufPtr(buf), len32(buf)), buf);
    }

    /// A header of the upgrade request; null if none.
    pub fn header(ws: WebSocket, name: []const u8, buf: []u8) Error!?[]u8 {
        const r = sys.ws_header(ws.handle, ptr(name), len32(name), bufPtr(buf), len32(buf));
        if (r == sys.ENOTFOUND) return null;
        return try copied(r, buf);
    }

    /// A route parameter, percent-decoded; null if none.
    pub fn param(ws: WebSocket, name: []const u8, buf: []u8) Error!?[]u8 {
        const r = sys.ws_param(ws.handle, ptr(name), len32(name), bufPtr(buf), len32(buf));
        if (r == sys.ENOTFOUND) return null;
        return try copied(r, buf);
    }
};
