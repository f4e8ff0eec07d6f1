#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes for a while each. Plain `go test`
# only replays the committed corpora (testdata/fuzz); this runs the fuzzer.
#
#   scripts/fuzz.sh            every target, 1 minute each
#   scripts/fuzz.sh 10m        every target, 10 minutes each
#   scripts/fuzz.sh 10m Sniff  the targets whose name matches Sniff
#
# A crasher is written to the package's testdata/fuzz/<Target>/ by go test:
# commit it with the fix, so every later `go test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go
time=${1:-1m} match=${2:-.}
found=0
# Targets are found in the source (faster than building every test binary
# to ask it): "func FuzzName(" in a _test.go file.
while IFS=: read -r file target; do
	found=1
	pkg=$(dirname "$file") # ./internal/…
	echo "== $pkg $target ($time)"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$pkg"
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/func //' | sort | grep -E -- ":.*($match)")
[ "$found" = 1 ] || { echo "voidbox: no fuzz target matches $match" >&2; exit 1; }
