//! A durable counter: `rusm run kv_counter.wasm --allow kv:counter` prints one
//! more each run (the node's store keeps it, in .rusm/kv.db by default).
const std = @import("std");
const rusm = @import("rusm");

pub fn main() !void {
    const bucket = rusm.Bucket.open("counter") catch |err| {
        std.debug.print("kv_counter: bucket 'counter': {s} (grant it with --allow kv:counter)\n", .{@errorName(err)});
        std.process.exit(1);
    };
    defer bucket.close();
    const hits = try bucket.incr("hits", 1);
    try std.io.getStdOut().writer().print("hits: {d}\n", .{hits});
}
