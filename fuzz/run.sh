#!/bin/sh
# Runs each libFuzzer binary given after SECONDS for that many seconds,
# starting from its seed corpus fuzz/corpus/NAME/ when there is one.
# New inputs go to out/fuzz/corpus/NAME/, crashes to out/fuzz/crashes/.
set -eu
seconds=$1
shift
status=0
mkdir -p out/fuzz/crashes
for bin in "$@"; do
	name=$(basename "$bin")
	corpus=out/fuzz/corpus/$name
	mkdir -p "$corpus"
	seeds=
	[ -d "fuzz/corpus/$name" ] && seeds=fuzz/corpus/$name
	echo "== fuzz: $name for ${seconds}s"
	if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix=out/fuzz/crashes/"$name"- "$corpus" $seeds 2>&1 | tail -12; then
		status=1
	fi
done
exit $status
