//! A supervised worker pool: 4 workers take 20 jobs; a worker crashes after
//! every odd job and its supervisor (main, trapping exits) starts a new one
//! in its place, giving it the job the dead one held.
//! `rusm run worker_pool.wasm --allow spawn --allow proc`.
const std = @import("std");
const rusm = @import("rusm");

const TAG_JOB: u64 = 1;
const TAG_DONE: u64 = 2;
const jobs = 20;
const nworkers = 4;

/// Squares the jobs it gets; crashes after answering an odd one.
export fn worker(boss: u64) void {
    var buf: [16]u8 = undefined;
    while (true) {
        const m = rusm.receive(&buf, .{ .tag = TAG_JOB }) catch rusm.exitError("receive");
        const job = m.int(u64) orelse rusm.exitError("a job without a number");
        rusm.send(rusm.Pid.from(boss), TAG_DONE, std.mem.asBytes(&(job * job))) catch {};
        if (job % 2 == 1) rusm.exitError("crashed on an odd job");
    }
}

fn start() rusm.Pid {
    return rusm.spawnLink("worker", &.{rusm.self().id()}) catch |err| {
        std.debug.print("worker_pool: spawn: {s} (grant --allow spawn --allow proc)\n", .{@errorName(err)});
        std.process.exit(1);
    };
}

pub fn main() !void {
    _ = try rusm.trapExit(true);
    var workers: [nworkers]rusm.Pid = undefined;
    for (&workers) |*w| w.* = start();
    // The job each worker holds: a worker that dies holding one gives it back.
    var holding = [_]?u64{null} ** nworkers;
    var pending: [jobs]u64 = undefined; // a stack of jobs not yet given out
    var npending: usize = 0;
    var j: u64 = jobs;
    while (j > 0) : (j -= 1) {
        pending[npending] = j - 1;
        npending += 1;
    }
    var answered: u64 = 0;
    var restarted: u64 = 0;
    var crashing: u64 = 0;
    var buf: [256]u8 = undefined;
    // Until every job is answered and every worker that crashed is back.
    while (answered < jobs or restarted < crashing) {
        for (workers, &holding) |w, *h| {
            if (h.* == null and npending > 0) {
                npending -= 1;
                const job = pending[npending];
                try rusm.send(w, TAG_JOB, std.mem.asBytes(&job));
                h.* = job;
            }
        }
        const m = try rusm.receive(&buf, .{});
        if (m.tag == TAG_DONE) {
            answered += 1;
            // The square of an odd job is odd: that worker crashes next.
            if ((m.int(u64) orelse 0) % 2 == 1) crashing += 1;
            for (workers, &holding) |w, *h| {
                if (w == m.from) h.* = null;
            }
        } else if (m.exit()) |e| {
            for (&workers, &holding) |*w, *h| {
                if (w.* != e.from) continue;
                if (h.*) |job| { // sent to it after its crash: not done
                    pending[npending] = job;
                    npending += 1;
                    h.* = null;
                }
                w.* = start();
                restarted += 1;
            }
        }
    }
    try std.io.getStdOut().writer().print("{d} jobs answered, {d} workers crashed and were restarted\n", .{ answered, restarted });
}
