//! HTTP handlers in Zig: each request is its own sandboxed process, started at
//! the route's entry with its request's handle.
//!   rusm serve build/examples/zig/serve/rusm.toml
//!   curl http://127.0.0.1:8083/hello/ada
//!   curl -d 'some bytes' http://127.0.0.1:8083/echo
//!   curl -N 'http://127.0.0.1:8083/count?n=3'
//!   a WebSocket client on ws://127.0.0.1:8083/shout/ada
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

/// GET /count?n=N (an sse route): N events `tick` ("1 of N", ...), then an
/// event `done` whose data is the request's target. N is 3 by default, at
/// most 100.
export fn count(handle: i32) void {
    const req = rusm.Request.from(handle);
    var query_buf: [64]u8 = undefined;
    var target_buf: [128]u8 = undefined;
    var line: [64]u8 = undefined;
    const query = req.query(&query_buf) catch "";
    var n: u32 = 3;
    var pairs = std.mem.splitScalar(u8, query, '&');
    while (pairs.next()) |pair| {
        if (std.mem.startsWith(u8, pair, "n=")) {
            n = std.fmt.parseInt(u32, pair[2..], 10) catch return fail(req);
        }
    }
    if (n > 100) return fail(req);
    req.startEvents("") catch return;
    var i: u32 = 1;
    while (i <= n) : (i += 1) {
        req.sendEvent("tick", std.fmt.bufPrint(&line, "{d} of {d}", .{ i, n }) catch unreachable) catch return;
    }
    const target = req.target(&target_buf) catch return;
    req.sendEvent("done", target) catch {};
}

/// /shout/{name} (a ws route): first a welcome naming the path, query and
/// the X-Client header (and a ping if the query says `ping`); then answers
/// each text message with "NAME: TEXT" in capitals and each binary one with
/// its bytes reversed; closes with 1000 "bye" when told "bye". Messages
/// from other processes are not frames and are ignored.
export fn shout(handle: i32) void {
    const ws = rusm.WebSocket.from(handle);
    var name_buf: [32]u8 = undefined;
    var path_buf: [64]u8 = undefined;
    var query_buf: [64]u8 = undefined;
    var client_buf: [32]u8 = undefined;
    var buf: [1024]u8 = undefined;
    var out: [1100]u8 = undefined;
    const name = (ws.param("name", &name_buf) catch null) orelse "anonymous";
    const path = ws.path(&path_buf) catch return;
    const query = ws.query(&query_buf) catch return;
    const client = (ws.header("X-Client", &client_buf) catch null) orelse "unknown";
    const welcome = std.fmt.bufPrint(&out, "welcome to {s}?{s}, {s}", .{ path, query, client }) catch return;
    ws.sendText(welcome) catch return;
    if (std.mem.indexOf(u8, query, "ping") != null) ws.ping("are you there") catch return;
    while (true) {
        const m = rusm.receive(&buf, .{}) catch return;
        const frame = rusm.WebSocket.frame(m) orelse continue;
        switch (frame) {
            .text => |text| {
                if (std.mem.eql(u8, text, "bye")) {
                    ws.close(1000, "bye") catch return;
                    continue; // the close frame comes next
                }
                const line = std.fmt.bufPrint(&out, "{s}: {s}", .{ name, text }) catch continue;
                ws.sendText(std.ascii.upperString(line, line)) catch return;
            },
            .binary => |bytes| {
                std.mem.reverse(u8, bytes);
                ws.sendBinary(bytes) catch return;
            },
            .close => return,
        }
    }
}

fn fail(req: rusm.Request) void {
    req.respond(500, "Content-Type: text/plain\n", "error\n") catch {};
}
