//! `rusm run hello.wasm`: a process says who it is.
const std = @import("std");
const rusm = @import("rusm");

pub fn main() !void {
    try std.io.getStdOut().writer().print("hello from zig process {} (abi {d})\n", .{ rusm.self(), rusm.abiVersion() });
}
