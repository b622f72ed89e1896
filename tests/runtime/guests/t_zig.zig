//! Conformance guest of the Zig SDK (guest/zig/rusm.zig): every wrapper
//! called against the real host, with its result checked. Run as
//!   rusm run t_zig.wasm --allow spawn --allow proc --allow registry \
//!       --allow pubsub --allow crypto --allow kv:app --kv DB
//! it prints "t_zig: N checks passed" and exits 0, or names the first check
//! that failed (its line) and exits 1.
const std = @import("std");
const rusm = @import("rusm");
const sys = rusm.sys;
const Pid = rusm.Pid;

const second: u64 = std.time.ns_per_s;

var checks: u32 = 0;

fn expect(ok: bool, src: std.builtin.SourceLocation, what: []const u8) void {
    checks += 1;
    if (!ok) {
        std.debug.print("t_zig: FAIL line {d}: {s}\n", .{ src.line, what });
        std.process.exit(1);
    }
}

fn expectError(got: anytype, want: anyerror, src: std.builtin.SourceLocation, what: []const u8) void {
    if (got) |_| {
        expect(false, src, what);
    } else |err| {
        if (err != want) std.debug.print("t_zig: line {d}: got error.{s}\n", .{ src.line, @errorName(err) });
        expect(err == want, src, what);
    }
}

// ---- processes the checks spawn -------------------------------------------------

/// Sends every message back to its sender.
export fn echo() void {
    var buf: [8192]u8 = undefined;
    while (true) {
        const m = rusm.receive(&buf, .{}) catch return;
        rusm.send(m.from, m.tag, m.data) catch return;
    }
}

export fn crasher() void {
    rusm.exitError("boom");
}

/// Waits for anything, then ends normally.
export fn waiter() void {
    var buf: [8]u8 = undefined;
    _ = rusm.receive(&buf, .{}) catch {};
}

export fn ends_shutdown() void {
    rusm.exit(.shutdown, "going away");
}

/// Tells `to` (tag 20) its parent's pid and whether it traps exits (the
/// previous value trapExit reports), then tries to register (tag 21: the
/// error's name, or "ok").
export fn introspect(to: u64) void {
    const boss = Pid.from(to);
    const p = rusm.parent().id();
    rusm.send(boss, 20, std.mem.asBytes(&p)) catch {};
    const was_trapping = rusm.trapExit(true) catch false;
    rusm.send(boss, 22, if (was_trapping) "trapping" else "not trapping") catch {};
    rusm.register("zig-introspect") catch |err| {
        rusm.send(boss, 21, @errorName(err)) catch {};
        return;
    };
    rusm.send(boss, 21, "ok") catch {};
}

/// A supervisor's child: lives until it is told to stop or killed.
export fn sup_child() void {
    var buf: [8]u8 = undefined;
    _ = rusm.receive(&buf, .{}) catch {};
}

/// simple_one_for_one's template: sends `n` to `to` (tag 30), then waits.
export fn numbered(to: u64, n: u64) void {
    rusm.send(Pid.from(to), 30, std.mem.asBytes(&n)) catch {};
    var buf: [8]u8 = undefined;
    _ = rusm.receive(&buf, .{}) catch {};
}

/// Takes two i32 arguments and sends their sum to `to` (tag 31).
export fn adder(to: u64, a: i32, b: i32) void {
    const sum: i64 = @as(i64, a) + b;
    rusm.send(Pid.from(to), 31, std.mem.asBytes(&sum)) catch {};
}

// ---- the checks -------------------------------------------------------------

fn receiveTag(buf: []u8, tag: u64) rusm.Message {
    return rusm.receive(buf, .{ .tag = tag, .timeout_ns = 10 * second }) catch |err| {
        std.debug.print("t_zig: no message with tag {x}: {s}\n", .{ tag, @errorName(err) });
        std.process.exit(1);
    };
}

fn identity() !void {
    expect(rusm.abiVersion() >= rusm.abi_version, @src(), "abiVersion");
    expect(rusm.abi_version == sys.ABI_VERSION, @src(), "abi_version");
    const me = rusm.self();
    expect(me != .none and rusm.isAlive(me), @src(), "self is alive");
    expect(rusm.parent() == .none, @src(), "the host spawned main");
    var text: [32]u8 = undefined;
    var number: [32]u8 = undefined;
    const printed = try std.fmt.bufPrint(&text, "{}", .{me});
    expect(std.mem.eql(u8, printed, try std.fmt.bufPrint(&number, "{d}", .{me.id()})), @src(), "Pid prints its number");
    try rusm.setLabel("zig conformance");
    var info: [1024]u8 = undefined;
    const lines = try rusm.processInfo(me, &info);
    expect(std.mem.indexOf(u8, lines, "label=zig conformance") != null, @src(), "processInfo shows the label");
    var small: [4]u8 = undefined;
    expect((try rusm.processInfo(me, &small)).len == 4, @src(), "processInfo cuts to the buffer");
    rusm.yieldNow();
}

fn messages() !void {
    var buf: [64]u8 = undefined;
    const e = try rusm.spawnLink("echo", &.{});
    expect(rusm.isAlive(e), @src(), "spawned echo is alive");

    try rusm.send(e, 7, "hello");
    var m = try rusm.receive(&buf, .{});
    expect(m.tag == 7 and m.from == e and std.mem.eql(u8, m.data, "hello") and !m.truncated(), @src(), "a round trip");
    expect(m.exit() == null, @src(), "a plain message is no exit");

    // Larger than the buffer: the rest with messageRead, or all of it with receiveAlloc.
    var big: [5000]u8 = undefined;
    for (&big, 0..) |*b, i| b.* = @intCast(i % 251);
    try rusm.send(e, 8, &big);
    m = try rusm.receive(&buf, .{});
    expect(m.size == big.len and m.data.len == buf.len and m.truncated(), @src(), "a truncated receive");
    var rest: [5000]u8 = undefined;
    const got = try rusm.messageRead(buf.len, &rest);
    expect(got == big.len - buf.len and std.mem.eql(u8, rest[0..got], big[buf.len..]), @src(), "messageRead reads the rest");
    expectError(rusm.messageRead(big.len + 1, &rest), error.BadArg, @src(), "messageRead past the end");
    try rusm.send(e, 9, &big);
    const whole = try rusm.receiveAlloc(std.heap.page_allocator, .{});
    defer std.heap.page_allocator.free(whole.data);
    expect(whole.tag == 9 and std.mem.eql(u8, whole.data, &big), @src(), "receiveAlloc");

    // Selective receive: the second first, the first still queued.
    try rusm.send(e, 10, "first");
    try rusm.send(e, 11, "second");
    m = try rusm.receive(&buf, .{ .tag = 11, .timeout_ns = 10 * second });
    expect(std.mem.eql(u8, m.data, "second"), @src(), "receive by tag");
    m = try rusm.receive(&buf, .{});
    expect(m.tag == 10 and std.mem.eql(u8, m.data, "first"), @src(), "the other stayed queued");
    expectError(rusm.receive(&buf, .{ .timeout_ns = 5 * std.time.ns_per_ms }), error.Timeout, @src(), "receive times out");
    expectError(rusm.receive(&buf, .{ .timeout_ns = 0 }), error.Timeout, @src(), "receive polls");
    expectError(rusm.send(e, rusm.TAG_DOWN, "x"), error.BadArg, @src(), "a reserved tag cannot be sent");
    expectError(rusm.send(.none, 1, "x"), error.BadArg, @src(), "pid none");

    // An integer payload, and an empty one.
    const n: u64 = 0x0102030405060708;
    try rusm.send(rusm.self(), 12, std.mem.asBytes(&n));
    try rusm.send(rusm.self(), 13, "");
    m = try rusm.receive(&buf, .{ .tag = 12 });
    expect(m.int(u64).? == n and m.int(u32).? == 0x05060708, @src(), "Message.int");
    m = try rusm.receive(&buf, .{ .tag = 13 });
    expect(m.size == 0 and m.data.len == 0 and m.int(u8) == null, @src(), "an empty message");

    // To a registered name.
    try rusm.register("zig-t");
    try rusm.sendName("zig-t", 14, "by name");
    m = try rusm.receive(&buf, .{ .tag = 14 });
    expect(m.from == rusm.self() and std.mem.eql(u8, m.data, "by name"), @src(), "sendName");
    expectError(rusm.sendName("zig-nobody", 14, "x"), error.NotFound, @src(), "sendName to nobody");
    try rusm.unregister("zig-t");

    // Arguments: i64 and i32 parameters.
    _ = try rusm.spawn("adder", &.{ rusm.self().id(), 40, @as(u32, @bitCast(@as(i32, -2))) });
    m = receiveTag(&buf, 31);
    expect(m.int(i64).? == 38, @src(), "spawn passes i32 and i64 arguments");
    expectError(rusm.spawn("adder", &.{1}), error.BadArg, @src(), "spawn with the wrong argument count");
    expectError(rusm.spawn("no_such_function", &.{}), error.NotFound, @src(), "spawn of a missing export");
    expectError(rusm.spawnModule("no-such-module", "echo", &.{}, .{}), error.NotFound, @src(), "spawnModule of a missing module");

    try rusm.unlink(e);
    try rusm.kill(e);
}

fn exits() !void {
    var buf: [256]u8 = undefined;
    // A monitored crash: one DOWN, decoded.
    const s = try rusm.spawnMonitor("crasher", &.{});
    var m = receiveTag(&buf, rusm.TAG_DOWN);
    var x = m.exit().?;
    expect(x.from == s.pid and x.monitor == s.monitor and m.ref == s.monitor, @src(), "DOWN names the process and monitor");
    expect(x.kind == .@"error" and std.mem.indexOf(u8, x.detail, "boom") != null, @src(), "DOWN's reason");
    expect(!rusm.isAlive(s.pid), @src(), "the crasher is gone");

    // monitor(): of a live process, then killed; of a dead one (noproc).
    const w = try rusm.spawn("waiter", &.{});
    const ref = try rusm.monitor(w);
    try rusm.kill(w);
    m = receiveTag(&buf, rusm.TAG_DOWN);
    x = m.exit().?;
    expect(x.from == w and x.monitor == ref and x.kind == .killed, @src(), "DOWN of a killed process");
    const ref2 = try rusm.monitor(w);
    m = receiveTag(&buf, rusm.TAG_DOWN);
    x = m.exit().?;
    expect(x.monitor == ref2 and x.kind == .noproc, @src(), "DOWN noproc for a dead process");

    // demonitor with flush: the queued DOWN goes.
    const w2 = try rusm.spawn("waiter", &.{});
    const ref3 = try rusm.monitor(w2);
    expect(rusm.demonitor(ref3, true), @src(), "demonitor of an active monitor");
    expect(!rusm.demonitor(ref3, true), @src(), "demonitor twice");
    const w2ref = try rusm.monitor(w2);
    try rusm.send(w2, 1, "go");
    m = receiveTag(&buf, rusm.TAG_DOWN);
    expect(m.exit().?.monitor == w2ref and m.exit().?.kind == .normal, @src(), "only the new monitor's DOWN, normal");

    // Normal and shutdown exits.
    const sd = try rusm.spawnMonitor("ends_shutdown", &.{});
    m = receiveTag(&buf, rusm.TAG_DOWN);
    x = m.exit().?;
    expect(x.from == sd.pid and x.kind == .shutdown and std.mem.eql(u8, x.detail, "going away"), @src(), "exit(.shutdown)");

    // trap_exit: a linked crash arrives as an EXIT message.
    expect(!(try rusm.trapExit(true)), @src(), "trapExit was off");
    expect(try rusm.trapExit(true), @src(), "trapExit is on");
    const c = try rusm.spawnLink("crasher", &.{});
    m = receiveTag(&buf, rusm.TAG_EXIT);
    x = m.exit().?;
    expect(x.from == c and x.kind == .@"error" and x.monitor == 0 and std.mem.indexOf(u8, x.detail, "boom") != null, @src(), "EXIT of a linked crash");

    // link() to a live process, an exit signal to it: EXIT with our detail.
    const l = try rusm.spawn("waiter", &.{});
    try rusm.link(l);
    try rusm.exitPid(l, .@"error", "stop now");
    m = receiveTag(&buf, rusm.TAG_EXIT);
    x = m.exit().?;
    expect(x.from == l and std.mem.eql(u8, x.detail, "stop now"), @src(), "EXIT after exitPid to a linked process");
    expectError(rusm.exitPid(l, .kill, ""), error.Noproc, @src(), "exitPid to a dead process");

    // unlink(): no EXIT any more.
    const u = try rusm.spawnLink("waiter", &.{});
    try rusm.unlink(u);
    const uref = try rusm.monitor(u);
    try rusm.kill(u);
    m = receiveTag(&buf, rusm.TAG_DOWN);
    expect(m.exit().?.monitor == uref, @src(), "the unlinked process died");
    expectError(rusm.receive(&buf, .{ .tag = rusm.TAG_EXIT, .timeout_ns = 0 }), error.Timeout, @src(), "no EXIT after unlink");

    // link() to a dead process: EXIT noproc.
    try rusm.link(u);
    m = receiveTag(&buf, rusm.TAG_EXIT);
    expect(m.exit().?.from == u and m.exit().?.kind == .noproc, @src(), "link to a dead process");
    _ = try rusm.trapExit(false);
}

fn spawnOptions() !void {
    var buf: [64]u8 = undefined;
    const me = rusm.self().id();
    // Inherited capabilities: the child may register; it knows its parent;
    // it does not trap exits.
    var s = try rusm.spawnWith("introspect", &.{me}, .{ .label = "zig child" });
    var m = receiveTag(&buf, 20);
    expect(m.int(u64).? == me, @src(), "the child's parent");
    m = receiveTag(&buf, 22);
    expect(std.mem.eql(u8, m.data, "not trapping"), @src(), "a child does not trap exits by default");
    m = receiveTag(&buf, 21);
    expect(std.mem.eql(u8, m.data, "ok"), @src(), "an inheriting child may register");
    // Asked capabilities (none of registry), trap_exit set, monitored.
    s = try rusm.spawnWith("introspect", &.{me}, .{ .caps = rusm.caps.spawn, .trap_exit = true, .monitor = true, .mailbox_bound = 16, .max_memory_pages = 64 });
    expect(s.monitor != 0, @src(), "a monitored spawn has a reference");
    _ = receiveTag(&buf, 20);
    m = receiveTag(&buf, 22);
    expect(std.mem.eql(u8, m.data, "trapping"), @src(), "SpawnOptions.trap_exit");
    m = receiveTag(&buf, 21);
    expect(std.mem.eql(u8, m.data, "Denied"), @src(), "SpawnOptions.caps narrows the child's capabilities");
    m = receiveTag(&buf, rusm.TAG_DOWN);
    expect(m.exit().?.from == s.pid, @src(), "SpawnOptions.monitor");
}

fn registry() !void {
    const me = rusm.self();
    try rusm.register("zig-all");
    expect((try rusm.whereis("zig-all")).? == me, @src(), "whereis finds us");
    expect((try rusm.whereis("zig-nobody")) == null, @src(), "whereis of nobody");
    expectError(rusm.register("zig-again"), error.Exists, @src(), "a second name");
    try rusm.unregister("zig-all");
    expect((try rusm.whereis("zig-all")) == null, @src(), "unregistered");
    expectError(rusm.unregister("zig-all"), error.NotFound, @src(), "unregister without a name");
}

fn topics() !void {
    var buf: [64]u8 = undefined;
    const e = try rusm.spawnLink("echo", &.{});
    expect(try rusm.publish("zig-topic", 50, "nobody") == 0, @src(), "publish without subscribers");
    try rusm.subscribe("zig-topic");
    try rusm.subscribe("zig-topic");
    expect(try rusm.publish("zig-topic", 50, "news") == 1, @src(), "publish to one subscriber (twice is once)");
    const m = receiveTag(&buf, 50);
    expect(m.from == rusm.self() and std.mem.eql(u8, m.data, "news"), @src(), "a published message");
    try rusm.unsubscribe("zig-topic");
    expectError(rusm.unsubscribe("zig-topic"), error.NotFound, @src(), "unsubscribe twice");
    expect(try rusm.publish("zig-topic", 50, "late") == 0, @src(), "no subscriber after unsubscribe");
    expectError(rusm.publish("", 50, "x"), error.BadArg, @src(), "an empty topic");

    var pids: [4096]Pid = undefined;
    const n = try rusm.processes(&pids);
    expect(n >= 2 and n <= pids.len, @src(), "processes counts us and echo");
    var seen_me = false;
    var seen_echo = false;
    for (pids[0..n]) |p| {
        seen_me = seen_me or p == rusm.self();
        seen_echo = seen_echo or p == e;
    }
    expect(seen_me and seen_echo, @src(), "processes lists them");
    var one: [1]Pid = undefined;
    expect(try rusm.processes(&one) >= 2, @src(), "processes counts past its buffer");
    try rusm.unlink(e);
    try rusm.kill(e);
}

/// The cluster calls on a node alone: this node is the only one, and
/// global names are this node's.
fn cluster() !void {
    var buf: [64]u8 = undefined;
    const here = rusm.nodeSelf();
    var ids: [8]u32 = undefined;
    expect(try rusm.nodes(&ids) == 0, @src(), "no other nodes");
    var name: [64]u8 = undefined;
    expect((try rusm.nodeName(here, &name)).len > 0, @src(), "nodeName of this node");
    expectError(rusm.nodeName(9, &name), error.NotFound, @src(), "nodeName of a node never seen");
    try rusm.monitorNode(9, true);
    const down = receiveTag(&buf, rusm.TAG_NODE_DOWN);
    expect(down.int(u16).? == 9 and down.ref == 9, @src(), "NODE_DOWN at once for a node that is not up");
    try rusm.monitorNode(9, false);

    // `rusm run` loads its module as "main". spawnOn needs a node id: a
    // node that is not in a cluster has 0, which spawn_on refuses.
    expect(here == 0, @src(), "a node alone has id 0");
    expectError(rusm.spawnOn(here, "main", "adder", &.{ rusm.self().id(), 1, 2 }, .{}, second), error.BadArg, @src(), "spawnOn node 0");
    const sm = try rusm.spawnModule("main", "adder", &.{ rusm.self().id(), 5, 6 }, .{ .monitor = true });
    var m = receiveTag(&buf, 31);
    expect(m.from == sm.pid and m.int(i64).? == 11, @src(), "spawnModule");
    m = receiveTag(&buf, rusm.TAG_DOWN);
    expect(m.exit().?.from == sm.pid and m.exit().?.kind == .normal, @src(), "spawnModule's monitor");

    try rusm.register("zig-named");
    try rusm.sendNamed(here, "zig-named", 60, "named");
    m = receiveTag(&buf, 60);
    expect(std.mem.eql(u8, m.data, "named"), @src(), "sendNamed to this node");
    try rusm.unregister("zig-named");
    expectError(rusm.sendNamed(here, "zig-named", 60, "x"), error.NotFound, @src(), "sendNamed to nobody");

    try rusm.registerGlobal("zig-global");
    expect((try rusm.whereisGlobal("zig-global")).? == rusm.self(), @src(), "whereisGlobal");
    try rusm.sendGlobal("zig-global", 61, "global");
    m = receiveTag(&buf, 61);
    expect(std.mem.eql(u8, m.data, "global"), @src(), "sendGlobal");
    try rusm.unregisterGlobal("zig-global");
    expect((try rusm.whereisGlobal("zig-global")) == null, @src(), "unregisterGlobal");
    expectError(rusm.unregisterGlobal("zig-global"), error.NotFound, @src(), "unregisterGlobal twice");
    expectError(rusm.sendGlobal("zig-global", 61, "x"), error.NotFound, @src(), "sendGlobal to nobody");
    expectError(rusm.registerGlobal(""), error.BadArg, @src(), "an empty global name");
}

fn timers() !void {
    var buf: [64]u8 = undefined;
    const me = rusm.self();
    const t = try rusm.sendAfter(second, me, 40, "late");
    expect(t > 0, @src(), "a timer id");
    const left = rusm.cancelTimer(t);
    expect(left != null and left.? <= second, @src(), "cancelTimer: time left");
    expect(rusm.cancelTimer(t) == null, @src(), "cancelTimer twice");
    _ = try rusm.sendAfter(std.time.ns_per_ms, me, 41, "tick");
    const m = receiveTag(&buf, 41);
    expect(m.from == me and std.mem.eql(u8, m.data, "tick"), @src(), "a timer fires");
    expectError(rusm.receive(&buf, .{ .tag = 40, .timeout_ns = 0 }), error.Timeout, @src(), "a cancelled timer never fires");
    // Messages that arrive while a process sleeps stay queued.
    try rusm.send(me, 42, "during sleep");
    rusm.sleep(std.time.ns_per_ms);
    const q = try rusm.receive(&buf, .{ .timeout_ns = 0 });
    expect(q.tag == 42, @src(), "a message kept through sleep");
}

fn supervisors() !void {
    var buf: [64]u8 = undefined;
    const sup = try rusm.Supervisor.start(.{ .max_restarts = 5 }, &.{
        .{ .id = "a", .function = "sup_child" },
        .{ .id = "b", .function = "sup_child", .restart = .transient },
    });
    expect(rusm.isAlive(sup.pid), @src(), "the supervisor runs");
    var kids: [4]Pid = undefined;
    expect(try sup.whichChildren(&kids, 10 * second) == 2, @src(), "two children");
    const first = kids[0];
    const mref = try rusm.monitor(first);
    try rusm.kill(first);
    const m = receiveTag(&buf, rusm.TAG_DOWN);
    expect(m.exit().?.monitor == mref, @src(), "the child was killed");
    // The supervisor hears of the exit on its own time: ask until it restarted
    // the child (a restarted child counts from its restart: last).
    var tries: u32 = 0;
    while (tries < 10000) : (tries += 1) {
        const n = try sup.whichChildren(&kids, 10 * second);
        if (n == 2 and kids[0] != first and kids[1] != first) break;
        rusm.sleep(std.time.ns_per_ms);
    }
    expect(kids[0] != first and kids[1] != first and rusm.isAlive(kids[1]), @src(), "the killed child was restarted");
    var one: [1]Pid = undefined;
    expect(try sup.whichChildren(&one, 10 * second) == 2, @src(), "whichChildren counts past its buffer");
    const gone = kids[0];
    try sup.terminateChild(gone, 10 * second);
    expect(try sup.whichChildren(&kids, 10 * second) == 1 and kids[0] != gone, @src(), "terminateChild");
    expect(!rusm.isAlive(gone), @src(), "the terminated child is gone");
    expectError(sup.terminateChild(gone, 10 * second), error.NotFound, @src(), "terminateChild twice");
    expectError(sup.startChild(&.{}, 10 * second), error.BadArg, @src(), "startChild on a one_for_one supervisor");
    expectError(rusm.Supervisor.start(.{}, &.{.{ .id = "x", .function = "no_such_function" }}), error.NotFound, @src(), "a child of a missing function");

    const pool = try rusm.Supervisor.start(.{ .strategy = .simple_one_for_one }, &.{
        .{ .id = "n", .function = "numbered", .args = &.{rusm.self().id()}, .restart = .temporary },
    });
    expect(try pool.whichChildren(&kids, 10 * second) == 0, @src(), "simple_one_for_one starts empty");
    const k1 = try pool.startChild(&.{7}, 10 * second);
    var r = receiveTag(&buf, 30);
    expect(r.from == k1 and r.int(u64).? == 7, @src(), "startChild appends its arguments");
    _ = try pool.startChild(&.{8}, 10 * second);
    r = receiveTag(&buf, 30);
    expect(r.int(u64).? == 8, @src(), "a second child");
    expect(try pool.whichChildren(&kids, 10 * second) == 2, @src(), "two children in the pool");
    expectError(pool.startChild(&.{ 1, 2 }, 10 * second), error.BadArg, @src(), "startChild with too many arguments");
    _ = try rusm.trapExit(true); // the supervisors are linked to us: stop them quietly
    try rusm.exitPid(pool.pid, .shutdown, "");
    try rusm.exitPid(sup.pid, .shutdown, "");
    _ = receiveTag(&buf, rusm.TAG_EXIT);
    _ = receiveTag(&buf, rusm.TAG_EXIT);
    _ = try rusm.trapExit(false);
}

fn keyValue() !void {
    const b = try rusm.Bucket.open("app");
    defer b.close();
    // A rerun on the same store starts from nothing.
    for ([_][]const u8{ "k", "long", "n", "text", "new", "gone", "l/a", "l/b", "l/c", "b1", "b2" }) |key| {
        _ = try b.delete(key);
    }
    var buf: [64]u8 = undefined;
    try b.put("k", "v1");
    expect(std.mem.eql(u8, (try b.get("k", &buf)).?, "v1"), @src(), "put then get");
    expect((try b.get("missing", &buf)) == null, @src(), "get of a missing key");
    var long: [1000]u8 = undefined;
    @memset(&long, 'x');
    try b.put("long", &long);
    expectError(b.get("long", &buf), error.BufferTooSmall, @src(), "get into a short buffer");
    const all = (try b.getAlloc(std.heap.page_allocator, "long")).?;
    defer std.heap.page_allocator.free(all);
    expect(std.mem.eql(u8, all, &long), @src(), "getAlloc of a long value");
    expect((try b.getAlloc(std.heap.page_allocator, "missing")) == null, @src(), "getAlloc of a missing key");
    expectError(b.put("", "x"), error.BadArg, @src(), "an empty key");

    expect(try b.incr("n", 5) == 5 and try b.incr("n", -1) == 4, @src(), "incr");
    try b.put("text", "abc");
    expectError(b.incr("text", 1), error.BadState, @src(), "incr of text");

    expect(!(try b.cas("k", "v0", "v2")), @src(), "cas with the wrong expectation");
    expect(try b.cas("k", "v1", "v2"), @src(), "cas");
    expect(std.mem.eql(u8, (try b.get("k", &buf)).?, "v2"), @src(), "cas wrote");
    expect(try b.cas("new", null, "1"), @src(), "cas if absent");
    expect(!(try b.cas("new", null, "2")), @src(), "cas if absent of a present key");
    expect(!(try b.casDelete("new", "2")), @src(), "casDelete with the wrong value");
    expect(try b.casDelete("new", "1"), @src(), "casDelete");
    expect(try b.delete("k") and !(try b.delete("k")), @src(), "delete");

    // list: pages of two entries (8-byte header + 3-byte key + 1-byte value).
    try b.put("l/a", "1");
    try b.put("l/b", "2");
    try b.put("l/c", "3");
    var page_buf: [24]u8 = undefined;
    var page = try b.list("l/", "", &page_buf, true);
    var e = page.next().?;
    expect(std.mem.eql(u8, e.key, "l/a") and std.mem.eql(u8, e.value, "1"), @src(), "list: the first entry");
    e = page.next().?;
    expect(std.mem.eql(u8, e.key, "l/b") and std.mem.eql(u8, e.value, "2"), @src(), "list: the second");
    expect(page.next() == null, @src(), "list: a page of two");
    var after: [3]u8 = undefined;
    @memcpy(&after, e.key);
    page = try b.list("l/", &after, &page_buf, false);
    e = page.next().?;
    expect(page.count == 1 and std.mem.eql(u8, e.key, "l/c") and e.value.len == 0, @src(), "list: the next page, keys only");
    page = try b.list("l/", "l/c", &page_buf, false);
    expect(page.count == 0, @src(), "list: the end");
    var tiny: [4]u8 = undefined;
    expectError(b.list("l/", "", &tiny, true), error.TooLarge, @src(), "list into a buffer too small for one entry");

    // batch: all or nothing.
    var scratch: [256]u8 = undefined;
    var r = try b.batch(&.{
        .{ .kind = .put, .key = "b1", .value = "x" },
        .{ .kind = .check_absent, .key = "b2" },
        .{ .kind = .delete, .key = "l/a" },
    }, &scratch);
    expect(r == .ok, @src(), "a batch");
    expect((try b.get("l/a", &buf)) == null and std.mem.eql(u8, (try b.get("b1", &buf)).?, "x"), @src(), "the batch wrote");
    r = try b.batch(&.{
        .{ .kind = .put, .key = "b2", .value = "y" },
        .{ .kind = .check, .key = "b1", .value = "x" },
        .{ .kind = .check, .key = "l/b", .value = "not 2" },
    }, &scratch);
    expect(r == .conflict and r.conflict == 2, @src(), "a batch's failed check, by index");
    expect((try b.get("b2", &buf)) == null, @src(), "a failed batch wrote nothing");
    var short: [16]u8 = undefined;
    expectError(b.batch(&.{.{ .kind = .put, .key = "b2", .value = "0123456789" }}, &short), error.BufferTooSmall, @src(), "a batch too big for its scratch");

    expectError(rusm.Bucket.open("secret"), error.Denied, @src(), "a bucket not granted");
}

fn hex(comptime text: []const u8) [text.len / 2]u8 {
    var out: [text.len / 2]u8 = undefined;
    _ = std.fmt.hexToBytes(&out, text) catch unreachable;
    return out;
}

fn cryptography() !void {
    const c = rusm.crypto;
    var out: [128]u8 = undefined;
    // Known answers: FIPS 180-2 "abc", RFC 4231 case 2, RFC 5869 case 1.
    var d = try c.digest(.sha256, "abc", &out);
    expect(std.mem.eql(u8, d, &hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")), @src(), "SHA-256 of abc");
    d = try c.hmac(.sha256, "Jefe", "what do ya want for nothing?", &out);
    expect(std.mem.eql(u8, d, &hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")), @src(), "HMAC-SHA-256");
    var okm: [42]u8 = undefined;
    try c.hkdf(.sha256, &([_]u8{0x0b} ** 22), &hex("000102030405060708090a0b0c"), &hex("f0f1f2f3f4f5f6f7f8f9"), &okm);
    expect(std.mem.eql(u8, &okm, &hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")), @src(), "HKDF-SHA-256");
    // Random bytes, hashed by the host and by Zig's std alike.
    var noise: [1000]u8 = undefined;
    try c.random(&noise);
    var ours: [64]u8 = undefined;
    std.crypto.hash.sha2.Sha512.hash(&noise, ours[0..64], .{});
    expect(std.mem.eql(u8, try c.digest(.sha512, &noise, &out), &ours), @src(), "SHA-512 agrees with std.crypto");
    var blake: [32]u8 = undefined;
    std.crypto.hash.blake2.Blake2s256.hash(&noise, &blake, .{});
    expect(std.mem.eql(u8, try c.digest(.blake2s256, &noise, &out), &blake), @src(), "BLAKE2s agrees with std.crypto");
    expectError(c.digest(.sha256, "abc", out[0..8]), error.BadArg, @src(), "a digest into a short buffer");
    expect(c.equal("same", "same") and !c.equal("same", "sane") and !c.equal("a", "ab"), @src(), "equal");

    // AEAD: a round trip; a changed byte or other associated data fail.
    const key = try c.Key.generate(.chacha20_poly1305, false);
    const nonce = [_]u8{7} ** 12;
    var sealed_buf: [64]u8 = undefined;
    const sealed = try key.seal(&nonce, "header", "secret text", &sealed_buf);
    expect(sealed.len == "secret text".len + 16, @src(), "seal adds a 16-byte tag");
    var plain: [64]u8 = undefined;
    expect(std.mem.eql(u8, try key.open(&nonce, "header", sealed, &plain), "secret text"), @src(), "open");
    expectError(key.open(&nonce, "other", sealed, &plain), error.Auth, @src(), "open with other associated data");
    sealed[0] ^= 1;
    expectError(key.open(&nonce, "header", sealed, &plain), error.Auth, @src(), "open of a changed ciphertext");
    expectError(key.exportBytes(&out), error.Denied, @src(), "a key not exportable");
    key.drop();
    expectError(key.seal(&nonce, "", "x", &sealed_buf), error.NotFound, @src(), "a dropped key");

    // An imported AES key seals as the exported one does.
    const aes = try c.Key.import(.aes256_gcm, &([_]u8{42} ** 32), true);
    const exported = try aes.exportBytes(&out);
    expect(std.mem.eql(u8, exported, &([_]u8{42} ** 32)), @src(), "export gives the imported bytes");
    const again = try c.Key.import(.aes256_gcm, exported, false);
    var s1: [64]u8 = undefined;
    var s2: [64]u8 = undefined;
    expect(std.mem.eql(u8, try aes.seal(&nonce, "", "x", &s1), try again.seal(&nonce, "", "x", &s2)), @src(), "the same key seals alike");
    expectError(c.Key.import(.aes256_gcm, "short", false), error.BadArg, @src(), "an AES key of the wrong size");

    // Signatures: Ed25519 and P-256, verified by the host; Ed25519 also by std.
    var pub_buf: [65]u8 = undefined;
    var sig_buf: [64]u8 = undefined;
    const ed = try c.Key.generate(.ed25519, false);
    const ed_pub = try ed.public(&pub_buf);
    const sig = try ed.sign("signed words", &sig_buf);
    expect(ed_pub.len == 32 and sig.len == 64, @src(), "Ed25519 sizes");
    expect(try c.verify(.ed25519, ed_pub, "signed words", sig), @src(), "Ed25519 verifies");
    expect(!(try c.verify(.ed25519, ed_pub, "other words", sig)), @src(), "Ed25519 refuses other data");
    const Ed25519 = std.crypto.sign.Ed25519;
    const std_sig = Ed25519.Signature.fromBytes(sig[0..64].*);
    const std_pub = try Ed25519.PublicKey.fromBytes(ed_pub[0..32].*);
    expect(if (std_sig.verify("signed words", std_pub)) |_| true else |_| false, @src(), "std.crypto verifies the host's Ed25519 signature");
    const ec = try c.Key.generate(.ecdsa_p256, false);
    const ec_pub = try ec.public(&pub_buf);
    const ec_sig = try ec.sign("p256", &sig_buf);
    expect(ec_pub.len == 65 and try c.verify(.ecdsa_p256, ec_pub, "p256", ec_sig), @src(), "P-256 verifies");
}

// Outbound HTTP: the run grants 127.0.0.1:1 only (nothing listens there).
fn fetching() !void {
    const a = std.heap.page_allocator;
    expectError(rusm.fetch(a, .{ .url = "http://127.0.0.1:2/" }), error.Denied, @src(), "a port not granted");
    expectError(rusm.fetch(a, .{ .url = "http://example.com:1/" }), error.Denied, @src(), "a host not granted");
    expectError(rusm.fetch(a, .{ .url = "http://127.0.0.1:1/" }), error.NoConn, @src(), "granted, nobody listening");
    expectError(rusm.fetch(a, .{ .url = "ftp://127.0.0.1:1/" }), error.BadArg, @src(), "not an http URL");
    expectError(rusm.fetch(a, .{ .url = "http://127.0.0.1:1/", .headers = "Host: x\r\n" }), error.BadArg, @src(), "the host's header");
}

pub fn main() !void {
    try identity();
    try messages();
    try exits();
    try spawnOptions();
    try registry();
    try topics();
    try cluster();
    try timers();
    try supervisors();
    try keyValue();
    try cryptography();
    try fetching();
    var none: [0]u8 = undefined;
    expectError(rusm.receive(&none, .{ .timeout_ns = 0 }), error.Timeout, @src(), "no message left over");
    try std.io.getStdOut().writer().print("t_zig: {d} checks passed\n", .{checks});
}
