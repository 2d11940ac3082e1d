# Helpers for docker-watch.bats: run the applet in the background and read
# its port-event output.

RDAGENT=${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}

# Starts docker-watch with extra arguments; output goes to $DW_OUT, logs to
# $DW_ERR.
dw_start() {
	DW_OUT=$BATS_TEST_TMPDIR/dw.out
	DW_ERR=$BATS_TEST_TMPDIR/dw.err
	: > "$DW_OUT"
	"$RDAGENT" docker-watch -v "$@" > "$DW_OUT" 2> "$DW_ERR" &
	DW_PID=$!
}

dw_stop() {
	if [ -n "${DW_PID:-}" ]; then
		kill "$DW_PID" 2>/dev/null || true
		wait "$DW_PID" 2>/dev/null || true
		DW_PID=
	fi
}

# Waits up to $2 seconds (default 30) for an output line that matches the
# extended regular expression $1.
dw_wait_line() {
	local pattern=$1 limit=${2:-30} i
	for i in $(seq 1 $((limit * 10))); do
		grep -Eq -- "$pattern" "$DW_OUT" && return 0
		sleep 0.1
	done
	echo "no output line matching '$pattern' within ${limit}s; output:" >&2
	cat "$DW_OUT" >&2
	echo "log:" >&2
	tail -30 "$DW_ERR" >&2
	return 1
}

# Waits for N output lines that match $2.
dw_wait_count() {
	local n=$1 pattern=$2 limit=${3:-30} i
	for i in $(seq 1 $((limit * 10))); do
		[ "$(grep -Ec -- "$pattern" "$DW_OUT")" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "fewer than $n lines matching '$pattern' within ${limit}s; output:" >&2
	cat "$DW_OUT" >&2
	tail -30 "$DW_ERR" >&2
	return 1
}

# Waits up to 10 seconds for a log line that matches the extended regular
# expression $1.
dw_wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -Eq -- "$1" "$DW_ERR" && return 0
		sleep 0.1
	done
	echo "no log line matching '$1' within 10s; log:" >&2
	tail -30 "$DW_ERR" >&2
	return 1
}

# Prints the bindings that a consumer keeps after reading FILE, applying
# the stream's rules (idempotent add/del, sync/done snapshots), one
# "OWNER PROTO HOST_IP HOST_PORT TARGET_PORT" per line, sorted.
dw_state() {
	awk '
		$1 == "add" { key = $2 " " $3 " " $4 " " $5; held[key] = $6; if (insync) seen[key] = 1 }
		$1 == "del" { key = $2 " " $3 " " $4 " " $5; delete held[key] }
		$1 == "sync" { insync = 1; split("", seen) }
		$1 == "done" { for (k in held) if (!(k in seen)) delete held[k]; insync = 0 }
		END { for (k in held) print k, held[k] }
	' "$1" | sort
}

# Waits up to 10 s until a consumer of the output would keep no binding.
dw_wait_empty() {
	local i
	for i in $(seq 1 100); do
		[ -z "$(dw_state "$DW_OUT")" ] && return 0
		sleep 0.1
	done
	echo "bindings left:" >&2
	dw_state "$DW_OUT" >&2
	return 1
}

# Runs docker-watch --once with the given arguments, stdout only.
dw_once() {
	"$RDAGENT" docker-watch --once "$@" 2>/dev/null
}

# Prints the output lines for one container, with the owner shortened to
# "docker/ID12" so the expected text stays readable.
dw_lines_for() {
	grep -E "^(add|del) docker/$1" "$DW_OUT" | sed -E 's#^(add|del) docker/([0-9a-f]{12})[0-9a-f]{52}#\1 docker/\2#'
}

# Fails when FILE repeats itself outside a snapshot: an add of a binding a
# consumer already holds, or a del of one it does not hold.  Keys are as in
# dw_state (without the target).  Prints the offending lines.
dw_no_repeats() {
	awk '
		$1 == "sync" { insync = 1; split("", seen) }
		$1 == "done" { for (k in held) if (!(k in seen)) delete held[k]; insync = 0 }
		$1 == "add" { key = $2 " " $3 " " $4 " " $5
			if (insync) seen[key] = 1
			else if (key in held) { print "repeated: " $0; bad = 1 }
			held[key] = 1 }
		$1 == "del" { key = $2 " " $3 " " $4 " " $5
			if (!(key in held)) { print "not held: " $0; bad = 1 }
			delete held[key] }
		END { exit bad }
	' "$1"
}
