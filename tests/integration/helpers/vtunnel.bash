# Helpers for the vtunnel-send and vtunnel-peer tests.
#
#   vt_init              sets RDAGENT, VT_DIR (private directory), VT_HELPERS
#   vt_port              prints a random TCP port in 20000-59999
#   receiver_start ADDR RECORD [ARGS]   starts the Privileged Service
#                        stand-in; sets RECV_PID
#   receiver_stop        stops it
#   sender_start ARGS    starts vtunnel-send reading the FIFO on fd 7;
#                        sets SEND_PID, SEND_ERR (its stderr file)
#   send LINE...         writes port-event lines to the sender
#   sender_finish        closes its input and waits; sets SEND_STATUS
#   wait_lines FILE N    waits up to 20 s until FILE has N lines
#   wait_grep FILE TEXT  waits up to 20 s until FILE contains TEXT
#   wait_exit PID SECONDS  fails unless child PID exits within SECONDS;
#                        sets EXIT_STATUS
#   receiver_errors RECORD  fails when the receiver rejected a message
#
# Every process runs on loopback or unix sockets under VT_DIR.

vt_init() {
	RDAGENT=${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}
	VT_HELPERS=$BATS_TEST_DIRNAME/helpers
	VT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vtunnel-test.XXXXXX")
}

vt_port() {
	echo $((20000 + (RANDOM * 32768 + RANDOM) % 40000))
}

wait_lines() {
	local file=$1 n=$2 i
	for i in $(seq 1 400); do
		if [ -f "$file" ] && [ "$(wc -l < "$file")" -ge "$n" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "timed out waiting for $n lines in $file; it has:" >&2
	cat "$file" >&2 2>/dev/null
	return 1
}

wait_grep() {
	local file=$1 text=$2 i
	for i in $(seq 1 400); do
		grep -qF -- "$text" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$text' in $file; it has:" >&2
	cat "$file" >&2 2>/dev/null
	return 1
}

wait_exit() {
	local pid=$1 limit=$2 i
	for i in $(seq 1 $((limit * 20))); do
		if ! kill -0 "$pid" 2>/dev/null ||
		   [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
			EXIT_STATUS=0
			wait "$pid" || EXIT_STATUS=$?
			return 0
		fi
		sleep 0.05
	done
	echo "process $pid did not exit within $limit s" >&2
	return 1
}

receiver_errors() {
	if [ -e "$1.errors" ]; then
		echo "the receiver rejected messages:" >&2
		cat "$1.errors" >&2
		return 1
	fi
}

receiver_start() {
	local addr=$1 record=$2
	shift 2
	rm -f "$VT_DIR/recv.ready"
	python3 "$VT_HELPERS/vtunnel-receiver.py" "$addr" "$record" --ready "$VT_DIR/recv.ready" "$@" \
		>>"$VT_DIR/receiver.log" 2>&1 3>&- 7>&- &
	RECV_PID=$!
	wait_lines "$VT_DIR/recv.ready" 1
}

receiver_stop() {
	if [ -n "${RECV_PID:-}" ]; then
		kill "$RECV_PID" 2>/dev/null || true
		wait "$RECV_PID" 2>/dev/null || true
		RECV_PID=
	fi
}

sender_start() {
	SEND_ERR=$VT_DIR/send.err
	SEND_OUT=$VT_DIR/send.out
	rm -f "$VT_DIR/send.fifo"
	mkfifo "$VT_DIR/send.fifo"
	"$RDAGENT" vtunnel-send "$@" < "$VT_DIR/send.fifo" > "$SEND_OUT" 2> "$SEND_ERR" 3>&- &
	SEND_PID=$!
	exec 7> "$VT_DIR/send.fifo"
}

send() {
	printf '%s\n' "$@" >&7
}

sender_finish() {
	exec 7>&-
	SEND_STATUS=0
	wait "$SEND_PID" || SEND_STATUS=$?
	SEND_PID=
}

sender_kill() {
	if [ -n "${SEND_PID:-}" ]; then
		kill "$SEND_PID" 2>/dev/null || true
		exec 7>&- 2>/dev/null || true
		wait "$SEND_PID" 2>/dev/null || true
		SEND_PID=
	fi
}
