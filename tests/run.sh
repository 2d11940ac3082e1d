#!/bin/sh
# Runs the cmocka unit-test binaries given as arguments, then every bats
# file under tests/integration against out/rdagent, and prints one closing
# line "N passed, N failed" that counts both.  Exits 1 if anything failed.
#
# TESTS=pattern limits the bats files (e.g. TESTS=listen-hold).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
log=out/test-logs
mkdir -p "$log"

for t in "$@"; do
	name=$(basename "$t")
	echo "== unit: $name"
	CMOCKA_MESSAGE_OUTPUT=stdout "$t" > "$log/$name.out" 2>&1
	status=$?
	cat "$log/$name.out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$name.out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$name.out" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$status" != 0 ] && [ -z "$f" ]; then
		echo "unit: $name exited with status $status"
		failed=$((failed + 1))
	fi
done

if command -v bats >/dev/null 2>&1; then
	files=$(ls tests/integration/*.bats 2>/dev/null | grep -- "${TESTS:-.}" || true)
	for f in $files; do
		name=$(basename "$f" .bats)
		echo "== integration: $name"
		bats --tap "$f" > "$log/$name.tap" 2>&1
		cat "$log/$name.tap"
		p=$(grep -c '^ok ' "$log/$name.tap")
		n=$(grep -c '^not ok ' "$log/$name.tap")
		passed=$((passed + p))
		failed=$((failed + n))
		if [ "$p" = 0 ] && [ "$n" = 0 ]; then
			echo "integration: $name ran no test"
			failed=$((failed + 1))
		fi
	done
else
	echo "bats not found: integration tests not run"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
