//! Two processes bouncing a message:
//! `rusm run ping_pong.wasm --allow spawn -- 1000`.
const std = @import("std");
const rusm = @import("rusm");

/// The other process: sends every message back to its sender.
export fn pong() void {
    var buf: [64]u8 = undefined;
    while (true) {
        const m = rusm.receive(&buf, .{}) catch return;
        rusm.send(m.from, m.tag, m.data) catch return;
    }
}

pub fn main() !void {
    var arg_mem: [1024]u8 = undefined;
    var fba = std.heap.FixedBufferAllocator.init(&arg_mem);
    const args = try std.process.argsAlloc(fba.allocator());
    const n = if (args.len > 1) try std.fmt.parseInt(u64, args[1], 10) else 1000;

    const p = rusm.spawnLink("pong", &.{}) catch |err| {
        std.debug.print("ping_pong: spawn: {s} (grant it with --allow spawn)\n", .{@errorName(err)});
        std.process.exit(1);
    };
    var buf: [64]u8 = undefined;
    var i: u64 = 1;
    while (i <= n) : (i += 1) {
        try rusm.send(p, i, "ping");
        const m = try rusm.receive(&buf, .{});
        if (m.tag != i or !std.mem.eql(u8, m.data, "ping")) return error.WrongAnswer;
    }
    try std.io.getStdOut().writer().print("{d} round trips with process {}\n", .{ n, p });
}
