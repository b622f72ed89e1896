// The V8 baseline of the engine benchmarks (bench/engine/), run by
// `rusm bench cpu` and `rusm bench instantiate` in the same run as rusm.
// Prints one JSON line on stdout (the last line; anything else goes to
// stderr), or {"error": ...} and exit status 1.
//
//   node node_runner.mjs run FILE.wasm [--seconds S] [--min-runs N] [--warmup N] [--export run]
//     Instantiates the module once (calling _initialize if it is a reactor),
//     makes N warm-up calls of the export (default 1; V8 tiers up meanwhile),
//     then times calls until S seconds have passed and at least --min-runs
//     calls were made:
//     {"engine":"V8","program":"fib","runs":5,"seconds_per_run":0.13,
//      "min_seconds":0.12,"checksum":39088169}
//     The export must return an i32; a checksum that changes between calls is
//     an error, and a trap (a failed self-check) is reported as an error.
//
//   node node_runner.mjs instantiate FILE.wasm [--seconds S] [--export NAME] [--live N]
//     Compiles once, then for S seconds: instantiate, call the export once,
//     drop the instance; prints instantiations per second. With --live N
//     (default 10000) it then keeps N instances alive (each called once) and
//     reports the growth of the process RSS per instance:
//     {"engine":"V8","module":"one_page","export":"run","iterations":..,
//      "per_second":..,"live_instances":N,"rss_bytes_per_instance":..}
//
// Imports are stubbed: WASI functions with minimal host behaviour (fd_write
// accepts and counts everything, fd_fdstat_get says "regular file",
// proc_exit(0) ends the call, anything else returns 0), other functions
// return zero.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";

class ProcExit extends Error {
  constructor(code) {
    super(`proc_exit(${code})`);
    this.code = code;
  }
}

function parseArgs(argv) {
  const [mode, file, ...rest] = argv;
  const opts = { mode, file, seconds: 1, minRuns: 3, warmup: 1, export: null, live: 10000 };
  for (let i = 0; i < rest.length; i++) {
    const v = rest[i + 1];
    switch (rest[i]) {
      case "--seconds": opts.seconds = Number(v); i++; break;
      case "--min-runs": opts.minRuns = Number(v); i++; break;
      case "--warmup": opts.warmup = Number(v); i++; break;
      case "--export": opts.export = v; i++; break;
      case "--live": opts.live = Number(v); i++; break;
      default: throw new Error(`unknown argument ${rest[i]}`);
    }
  }
  if (!["run", "instantiate"].includes(mode) || !file) {
    throw new Error("usage: node node_runner.mjs run|instantiate FILE.wasm [options]");
  }
  return opts;
}

// Builds the import object for `module`. `memory()` returns the memory of
// the instance currently running (the stubs are shared by every instance).
function stubImports(module, memory) {
  const imports = {};
  const ERRNO_SUCCESS = 0;
  const ERRNO_BADF = 8;
  const wasi = {
    fd_write(fd, iovs, iovsLen, nwrittenPtr) {
      const view = new DataView(memory().buffer);
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        total += view.getUint32(iovs + 8 * i + 4, true);
      }
      view.setUint32(nwrittenPtr, total, true);
      return ERRNO_SUCCESS;
    },
    fd_fdstat_get(fd, statPtr) {
      if (fd > 2) return ERRNO_BADF;
      const view = new DataView(memory().buffer);
      view.setUint8(statPtr, 4); // filetype: regular file
      view.setUint16(statPtr + 2, 0, true);
      view.setBigUint64(statPtr + 8, 0xffffffffn, true);
      view.setBigUint64(statPtr + 16, 0xffffffffn, true);
      return ERRNO_SUCCESS;
    },
    fd_seek(fd, offset, whence, newOffsetPtr) {
      new DataView(memory().buffer).setBigUint64(newOffsetPtr, 0n, true);
      return ERRNO_SUCCESS;
    },
    fd_close() { return ERRNO_SUCCESS; },
    proc_exit(code) { throw new ProcExit(code); },
  };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") {
      throw new Error(`import ${imp.module}.${imp.name} is a ${imp.kind}; only functions are stubbed`);
    }
    imports[imp.module] ??= {};
    const real = imp.module === "wasi_snapshot_preview1" ? wasi[imp.name] : undefined;
    imports[imp.module][imp.name] = real ?? (() => 0);
  }
  return imports;
}

// Calls `fn`; proc_exit(0) counts as a normal return.
function callExport(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ProcExit && e.code === 0) return 0;
    throw e;
  }
}

function load(file) {
  const module = new WebAssembly.Module(readFileSync(file));
  let current = null;
  const imports = stubImports(module, () => current.exports.memory);
  const instantiate = () => {
    current = new WebAssembly.Instance(module, imports);
    return current;
  };
  return { module, instantiate };
}

function runMode(opts) {
  const name = basename(opts.file).replace(/\.wasm$/, "");
  const exportName = opts.export ?? "run";
  const { instantiate } = load(opts.file);
  const instance = instantiate();
  if (typeof instance.exports._initialize === "function") instance.exports._initialize();
  const fn = instance.exports[exportName];
  if (typeof fn !== "function") throw new Error(`${name}: no exported function ${exportName}`);
  let checksum = null;
  const check = (c) => {
    if (checksum !== null && c !== checksum) {
      throw new Error(`${name}: checksum changed between runs (${checksum} then ${c})`);
    }
    checksum = c;
  };
  for (let i = 0; i < opts.warmup; i++) check(fn() >>> 0);
  let runs = 0, total = 0, best = Infinity;
  while (runs < Math.max(1, opts.minRuns) || total < opts.seconds) {
    const t0 = performance.now();
    const c = fn() >>> 0;
    const dt = (performance.now() - t0) / 1000;
    check(c);
    total += dt;
    best = Math.min(best, dt);
    runs++;
  }
  return { engine: "V8", program: name, runs, seconds_per_run: total / runs,
           min_seconds: best, checksum };
}

function instantiateMode(opts) {
  const name = basename(opts.file).replace(/\.wasm$/, "");
  const { module, instantiate } = load(opts.file);
  const exportName = opts.export ??
      (WebAssembly.Module.exports(module).some((e) => e.name === "_start") ? "_start" : "run");
  const once = () => {
    const instance = instantiate();
    const fn = instance.exports[exportName];
    if (typeof fn !== "function") throw new Error(`${name}: no exported function ${exportName}`);
    callExport(fn);
    return instance;
  };
  // Warm-up: let V8 compile (lazily, then tier up) before timing.
  for (let i = 0; i < 1000; i++) once();
  let iterations = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < opts.seconds) {
    for (let i = 0; i < 100; i++) once();
    iterations += 100;
    elapsed = (performance.now() - t0) / 1000;
  }
  const result = { engine: "V8", module: name, export: exportName, iterations,
                   per_second: iterations / elapsed };
  if (opts.live > 0) {
    if (global.gc) global.gc();
    const before = process.memoryUsage().rss;
    const live = [];
    try {
      for (let i = 0; i < opts.live; i++) live.push(once());
    } catch (e) {
      result.live_error = `after ${live.length} live instances: ${e.message}`;
    }
    const after = process.memoryUsage().rss;
    result.live_instances = live.length;
    if (live.length > 0) result.rss_bytes_per_instance = (after - before) / live.length;
  }
  return result;
}

try {
  const opts = parseArgs(process.argv.slice(2));
  const result = opts.mode === "run" ? runMode(opts) : instantiateMode(opts);
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (e) {
  const message = e instanceof WebAssembly.RuntimeError ? `trap: ${e.message}` : e.message;
  process.stdout.write(JSON.stringify({ engine: "V8", error: message }) + "\n");
  process.exitCode = 1;
}
