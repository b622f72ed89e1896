#!/usr/bin/env python3
"""Runs one test of the official WASI test suite (wasi-testsuite) with `rusm run`.

    run_test.py RUSM TEST.wasm

A test is NAME.wasm with an optional NAME.json beside it (doc/specification.md
of wasi-testsuite): `args` go after `--`, each `env` entry becomes
`--env NAME=VALUE` (the guest sees only these), `root` names a fixture
directory preopened as the guest's `/`, each of `dirs` a fixture preopened
under its own name, `exit_code` (default 0) must be rusm's exit status and
`stdout` / `stderr`, where given, must match byte for byte. Fixtures are
copied fresh (symlinks kept, made writable) into a temporary directory that
is removed afterwards, so the read-only shared suite is never written.

The guest gets stdio (`--stdio`, stdin from /dev/null), clocks and
randomness, and nothing else beyond what the spec names. Exits 0 if the test
passed; otherwise prints what differed and exits 1.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

TIMEOUT_SECONDS = 60


def make_writable(path):
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames + ["."]:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            mode = os.stat(p).st_mode
            os.chmod(p, mode | stat.S_IWUSR | stat.S_IRUSR | (stat.S_IXUSR if stat.S_ISDIR(mode) else 0))


def copy_fixture(src_dir, name, tmp):
    src = os.path.join(src_dir, name)
    if not os.path.isdir(src):
        raise RuntimeError(f"fixture directory '{name}' not found beside the test ({src})")
    dst = os.path.join(tmp, os.path.basename(name.rstrip("/")))
    shutil.copytree(src, dst, symlinks=True)
    make_writable(dst)
    return dst


def load_spec(wasm):
    spec_path = os.path.splitext(wasm)[0] + ".json"
    if not os.path.exists(spec_path):
        return {}
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    if "operations" in spec:
        raise RuntimeError(f"{spec_path}: the 'operations' form is not supported yet by this runner")
    return spec


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    rusm, wasm = sys.argv[1], os.path.abspath(sys.argv[2])
    try:
        spec = load_spec(wasm)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"bad test spec: {e}")
        return 1
    test_dir = os.path.dirname(wasm)
    with tempfile.TemporaryDirectory(prefix="rusm-wasi-suite-") as tmp:
        cmd = [rusm, "run", wasm, "--stdio", "--allow", "clock", "--allow", "random"]
        try:
            if "root" in spec:
                cmd += ["--dir", copy_fixture(test_dir, spec["root"], tmp) + ":/"]
            for d in spec.get("dirs", []):
                cmd += ["--dir", copy_fixture(test_dir, d, tmp) + ":" + d]
        except (OSError, RuntimeError) as e:
            print(f"cannot prepare the fixture: {e}")
            return 1
        for name, value in spec.get("env", {}).items():
            cmd += ["--env", f"{name}={value}"]
        args = spec.get("args", [])
        if args:
            cmd += ["--"] + args
        print("$ " + " ".join(cmd))
        try:
            # rusm keeps the host environment to itself (no --inherit-env), so
            # the sanitizer options of an ASan build reach it and not the guest.
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT_SECONDS, cwd=tmp)
        except subprocess.TimeoutExpired:
            print(f"FAIL: no exit within {TIMEOUT_SECONDS} s")
            return 1
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    failures = []
    want_code = spec.get("exit_code", 0)
    if r.returncode != want_code:
        failures.append(f"exit code {r.returncode}, expected {want_code}")
    if "stdout" in spec and out != spec["stdout"]:
        failures.append(f"stdout {out!r}, expected {spec['stdout']!r}")
    if "stderr" in spec and err != spec["stderr"]:
        failures.append(f"stderr {err!r}, expected {spec['stderr']!r}")
    if failures:
        print("--- stdout\n" + out + "--- stderr\n" + err + "---")
        for f in failures:
            print("FAIL: " + f)
        return 1
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
