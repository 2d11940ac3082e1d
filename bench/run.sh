#!/bin/sh
# Runs benchmarks and rebuilds docs/benchmarks.md.
#
#   sh bench/run.sh          every bench/*.sh
#   sh bench/run.sh NAME...  only bench/NAME.sh
#   sh bench/run.sh --join   only rebuild docs/benchmarks.md from docs/bench/
#
# Each bench/NAME.sh writes its Markdown section to the file named by
# $BENCH_OUT; that section is kept as docs/bench/NAME.md, and
# docs/benchmarks.md is the header below followed by every section.
set -eu
cd "$(dirname "$0")/.."
mkdir -p out/bench docs/bench
if [ "${1:-}" = --join ]; then
	set -- --join
elif [ $# = 0 ]; then
	set -- $(ls bench/*.sh | grep -v '/run.sh$' | sed 's|bench/\(.*\)\.sh|\1|')
fi
for name in "$@"; do
	[ "$name" = --join ] && break
	echo "== bench: $name"
	BENCH_OUT=out/bench/$name.md
	export BENCH_OUT
	rm -f "$BENCH_OUT"
	if sh "bench/$name.sh"; then
		cp "$BENCH_OUT" "docs/bench/$name.md"
	else
		echo "bench: $name failed; docs/bench/$name.md keeps its last result" >&2
	fi
done
{
	echo "# Benchmarks"
	echo
	echo "Made by \`make bench\` (bench/run.sh), which runs every bench/*.sh and"
	echo "joins their sections below. Each section names the machine and the"
	echo "reference tool it was measured against in the same run."
	for f in docs/bench/*.md; do
		[ -f "$f" ] || continue
		echo
		cat "$f"
	done
} > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
