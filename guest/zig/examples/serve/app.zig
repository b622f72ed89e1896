//! HTTP handlers in Zig: each request is its own sandboxed process, started at
//! the route's entry with its request's handle.
//!   rusm serve build/examples/zig/serve/rusm.toml
//!   curl http://127.0.0.1:8082/hello/ada
//!   curl -d 'some bytes' http://127.0.0.1:8082/echo
const std = @import("std");
const rusm = @import("rusm");

/// GET /hello/{name}: a greeting from the process that handles it; with
/// `X-Greeting: word` the word replaces "hello".
export fn hello(handle: i32) void {
    const req = rusm.Request.from(handle);
    var name_buf: [64]u8 = undefined;
    var greeting_buf: [32]u8 = undefined;
    var out: [256]u8 = undefined;
    const name = (req.param("name", &name_buf) catch null) orelse "stranger";
    const greeting = (req.header("X-Greeting", &greeting_buf) catch null) orelse "hello";
    const body = std.fmt.bufPrint(&out, "{s}, {s}, from zig process {}\n", .{ greeting, name, rusm.self() }) catch
        return fail(req);
    req.respond(200, "Content-Type: text/plain\n", body) catch {};
}

/// POST /echo: streams the body back, chunked, after a line with its method
/// and path; then a line with the byte count.
export fn echo(handle: i32) void {
    const req = rusm.Request.from(handle);
    var method_buf: [16]u8 = undefined;
    var path_buf: [128]u8 = undefined;
    var line: [192]u8 = undefined;
    const method = req.method(&method_buf) catch return fail(req);
    const path = req.path(&path_buf) catch return fail(req);
    req.start(200, "Content-Type: text/plain\n", null) catch return;
    req.write(std.fmt.bufPrint(&line, "{s} {s}\n", .{ method, path }) catch unreachable) catch return;
    var total: usize = 0;
    var chunk: [1024]u8 = undefined;
    while (true) {
        const n = req.read(&chunk) catch return; // the server answers 413 / closes
        if (n == 0) break;
        total += n;
        req.write(chunk[0..n]) catch return;
    }
    req.write(std.fmt.bufPrint(&line, "\n{d} bytes\n", .{total}) catch unreachable) catch return;
    req.finish() catch {};
}

fn fail(req: rusm.Request) void {
    req.respond(500, "Content-Type: text/plain\n", "error\n") catch {};
}
