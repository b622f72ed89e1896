"""Smoke test of a `rusm bench` scenario: runs it briefly with --json and
checks that the rows it should print are there with numbers.

  bench_rows.py RUSM SCENARIO DURATION ROW... [--FLAG...]

Each ROW is "metric|baseline_name|note regex" (the last two optional; the
regex may hold "|"): the report must have a row with that metric (and that
baseline, if named) whose value is a finite number above 0, whose baseline,
if named, is one too, and whose note matches the regex. The run must exit 0
and no note may say that something failed (or start with "ERROR").
Arguments starting with "--" are passed to `rusm bench` (e.g.
--no-baselines).
"""

import json
import math
import re
import subprocess
import sys

FAILURE_NOTE = re.compile(r"fail|did not|not theirs|no JavaScript|cannot|not answer|ended|^ERROR")


def positive(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def main():
    rusm, scenario, duration, *wanted = sys.argv[1:]
    flags = [w for w in wanted if w.startswith("--")]  # passed to rusm bench
    wanted = [w for w in wanted if not w.startswith("--")]
    run = subprocess.run([rusm, "bench", scenario, "--duration", duration, "--json", *flags],
                         capture_output=True, text=True, timeout=300)
    print(run.stdout)
    print(run.stderr, file=sys.stderr)
    if run.returncode != 0:
        sys.exit(f"FAIL: rusm bench {scenario} exited {run.returncode}")
    report = json.loads(run.stdout)
    problems = []
    for note in report["notes"]:
        if FAILURE_NOTE.search(note):
            problems.append(f"a note says something failed: {note!r}")
    for want in wanted:
        metric, baseline, note = (want.split("|", 2) + ["", ""])[:3]
        rows = [r for r in report["rows"] if r["metric"] == metric and
                (not baseline or r.get("baseline_name") == baseline)]
        if not rows:
            problems.append(f"no row {metric!r}" + (f" against {baseline!r}" if baseline else ""))
            continue
        row = rows[0]
        if not positive(row["value"]):
            problems.append(f"row {metric!r}: value {row['value']!r} is not a number above 0")
        if baseline and not positive(row.get("baseline")):
            problems.append(f"row {metric!r}: baseline {row.get('baseline')!r} is not a number above 0")
        if note and not re.search(note, row.get("note", "")):
            problems.append(f"row {metric!r}: note {row.get('note', '')!r} does not match {note!r}")
    for p in problems:
        print("FAIL:", p)
    if problems:
        sys.exit(1)
    print(f"{scenario}: {len(wanted)} rows checked")


if __name__ == "__main__":
    main()
