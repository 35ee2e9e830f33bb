#!/usr/bin/env bash
# Runs the test suite. pytest exits 5 when it collected nothing: that is a failure here, because
# a green run that tested nothing would hide a broken collection.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$rc"
