#!/usr/bin/env python3
"""Run rules/tests/cases.jsonl through `picket logtest -U`, one session per case.

Usage: rules/tests/run_cases.py [PICKET_BINARY] [RULESET_DIR|-]
  PICKET_BINARY  default: target/debug/picket
  RULESET_DIR    default: rules; "-" tests the ruleset embedded in the binary

A case passes when its expectation holds for the last of its lines: "pass" means
logtest -U RULE:LEVEL:DECODER exits 0, "fail" means it does not.
"""
import json
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/picket"
ruleset = sys.argv[2] if len(sys.argv) > 2 else str(here.parent)
passed = total = 0
for raw in (here / "cases.jsonl").read_text().splitlines():
    if not raw.strip():
        continue
    case = json.loads(raw)
    cmd = [binary, "logtest", "-U", f"{case['rule']}:{case['alert']}:{case['decoder']}"]
    if ruleset != "-":
        cmd += ["--ruleset", ruleset]
    run = subprocess.run(cmd, input="\n".join(case["lines"]) + "\n", capture_output=True, text=True)
    ok = (run.returncode == 0) == (case["expect"] == "pass")
    total += 1
    passed += ok
    if not ok:
        print(f"FAIL {case['file']} [{case['section']}] {case['key']}: expected "
              f"{case['expect']} {case['rule']}:{case['alert']}:{case['decoder']}")
print(f"{passed} / {total} cases pass")
sys.exit(0 if passed == total else 1)
