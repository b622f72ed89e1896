// The V8 baseline of `rusm bench programs`: runs a wasm32-wasi command
// module under node's WASI (preview 1) and prints one JSON line on stdout.
//
//   node node_wasi_runner.mjs FILE.wasm [ARGS...]
//
// The module is compiled before the clock starts (V8 compiles lazily and
// tiers up while it runs, as it would for any program); the figure is the
// time of instantiate + _start. The guest's stdout goes to a temporary file
// and comes back in the JSON:
//   {"engine":"V8","seconds":1.23,"exit_code":0,"stdout":"{\"checksum\":42}\n"}
// On failure: {"engine":"V8","error":"..."} and exit status 1.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { WASI } from "node:wasi";

const [file, ...args] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "rusm-programs-"));
try {
  if (!file) throw new Error("usage: node node_wasi_runner.mjs FILE.wasm [ARGS...]");
  const module = new WebAssembly.Module(readFileSync(file));
  const outPath = join(dir, "stdout");
  const out = openSync(outPath, "w");
  const wasi = new WASI({ version: "preview1", args: [file, ...args], env: {}, stdout: out,
                          returnOnExit: true });
  const t0 = performance.now();
  const instance = new WebAssembly.Instance(module, wasi.getImportObject());
  const code = wasi.start(instance);
  const seconds = (performance.now() - t0) / 1000;
  closeSync(out);
  const stdout = readFileSync(outPath, "utf8");
  process.stdout.write(JSON.stringify({ engine: "V8", seconds, exit_code: code, stdout }) + "\n");
} catch (e) {
  process.stdout.write(JSON.stringify({ engine: "V8", error: e.message }) + "\n");
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
