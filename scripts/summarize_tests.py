#!/usr/bin/env python3
"""Reads meson's testlog.json and prints one line "N passed, N failed".

A Check suite counts each of its tests (from Check's own "Checks: X,
Failures: Y, Errors: Z" line); any other test counts once. A Check suite
that crashed after its summary, or printed none, counts one failure more."""
import json
import re
import sys

summary = re.compile(r'Checks: (\d+), Failures: (\d+), Errors: (\d+)')
passed = failed = 0
bad = []
with open(sys.argv[1], encoding='utf-8') as f:
    for line in f:
        t = json.loads(line)
        ok = t['result'] in ('OK', 'EXPECTEDFAIL', 'SKIP')
        found = summary.findall(t.get('stdout') or '')
        if found:
            for checks, fails, errors in found:
                passed += int(checks) - int(fails) - int(errors)
                failed += int(fails) + int(errors)
            if not ok and all(int(x[1]) + int(x[2]) == 0 for x in found):
                failed += 1
        elif ok:
            passed += 1
        else:
            failed += 1
        if not ok:
            bad.append(t['name'])
if bad:
    print('failing tests: ' + ', '.join(bad))
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
