#!/usr/bin/env bats
# docker-watch against a stand-in daemon (helpers/fake-dockerd.py) that
# replays responses recorded from dockerd 20.10, reshaped as API 1.52
# json-seq events, and injects faults a real daemon does not send.  The
# stand-in listens on a private unix socket; nothing touches the network.

load helpers/common
load helpers/docker-watch

FIXTURES=$BATS_TEST_DIRNAME/../fixtures/docker-watch
WEB=e855939c21d639bd398a18193b985225012983079e5eab4e1db56231a2078ff4
V6=9539cb5c7ef38f0f95eba53d94d5a0ae2b6cbe66bca22c3233ab2781774b0752
LOOPER=d0224e401747fcb4647547d076e9652822da2e3745081049e7ac30f75761a009

setup() {
	DW_PID=
	FAKE_PID=
	SOCK=$BATS_TEST_TMPDIR/fake.sock
}

teardown() {
	dw_stop
	if [ -n "$FAKE_PID" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
	if [ -n "${DW_ERR:-}" ] && [ -f "$DW_ERR" ]; then
		echo "--- docker-watch log:"
		tail -40 "$DW_ERR"
	fi
}

# Starts the stand-in with MODE and API_VERSION and waits for its socket.
fake_start() {
	python3 "$BATS_TEST_DIRNAME/helpers/fake-dockerd.py" "$SOCK" "$FIXTURES" "$@" &
	FAKE_PID=$!
	for i in $(seq 1 100); do
		[ -S "$SOCK" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "api 1.52 json-seq replay" {
	fake_start replay 1.53
	dw_start -H "unix://$SOCK"
	dw_wait_line '^done docker$'
	# The snapshot: the four listed containers' recorded ports.
	[ "$(sed -n '/^sync/,/^done/p' "$DW_OUT" | grep -c '^add ')" -eq 18 ]
	grep -q "^add docker/$WEB tcp 127.0.0.1 9090 80 target_ip=172.17.0.2$" "$DW_OUT"
	grep -q "^add docker/$WEB tcp :: 8080 80 target_ip=fd00:d0c:1::242:ac11:2$" "$DW_OUT"
	# The replayed stream ends with every container stopped or removed.
	dw_wait_line "^del docker/$WEB "
	dw_wait_empty
	# The replay repeats start and kill for running containers and
	# sends stop after die: none of that may repeat a line.
	dw_no_repeats "$DW_OUT"
	# The daemon's 1.53 is capped at the newest version docker-watch knows.
	grep -q '^/v1.52/events?filters=' "$SOCK.requests"
	not grep -q '^/v1.53/' "$SOCK.requests"
}

@test "events during the snapshot are applied to it" {
	fake_start race
	dw_start -H "unix://$SOCK"
	dw_wait_line '^done docker$'
	# web's inspect said running, but its die and stop came first: the
	# response is stale and web is not in the snapshot.
	grep -q "dropping a stale inspect of container ${WEB:0:12}" "$DW_ERR"
	not grep -q "docker/$WEB" < <(sed -n '/^sync/,/^done/p' "$DW_OUT")
	[ "$(sed -n '/^sync/,/^done/p' "$DW_OUT" | grep -c "^add docker/$LOOPER ")" -eq 2 ]
	# v6 started after the list was made: it comes from its event.
	dw_wait_count 3 "^add docker/$V6 "
	run dw_state "$DW_OUT"
	[ "${#lines[@]}" -eq 5 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c "^docker/$V6 ")" -eq 3 ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c "^docker/$LOOPER ")" -eq 2 ]
	dw_no_repeats "$DW_OUT"
}

@test "SIGUSR1 logs the session and every container" {
	fake_start race
	dw_start -H "unix://$SOCK"
	dw_wait_count 3 "^add docker/$V6 "
	local before
	before=$(wc -l < "$DW_OUT")
	kill -USR1 "$DW_PID"
	dw_wait_log "docker-watch: info: state: following events on $SOCK, API 1\.[0-9]+, [0-9]+ containers, 0 requests in flight$"
	dw_wait_log "docker-watch: info: state: container ${V6:0:12}: 3 ports: tcp "
	grep -Eq "docker-watch: info: state: container ${LOOPER:0:12}: 2 ports: " "$DW_ERR"
	kill -0 "$DW_PID"
	# The dump writes no port event.
	[ "$(wc -l < "$DW_OUT")" -eq "$before" ]
}

@test "duplicate and reordered events change nothing" {
	fake_start duplicates
	dw_start -H "unix://$SOCK"
	dw_wait_line '^done docker$'
	dw_wait_count 4 "^del docker/$LOOPER "
	# After the snapshot: start while running (nothing), die (del), die
	# and stop again (nothing), start (add), stop then die (del once).
	run sh -c "sed '1,/^done/d' '$DW_OUT' | cut -d' ' -f1,2 | grep ' docker/$LOOPER\$'"
	[ "${#lines[@]}" -eq 6 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | tr '\n' ' ')" = "del del add add del del " ]
	dw_no_repeats "$DW_OUT"
}

@test "malformed chunk: reconnect and resync" {
	fake_start bad-chunk
	dw_start -H "unix://$SOCK"
	dw_wait_count 2 '^done docker$'
	grep -q "invalid event stream: malformed chunk-size line; reconnecting" "$DW_ERR"
	[ "$(grep -c '^/_ping$' "$SOCK.requests")" -ge 2 ]
}

@test "malformed event JSON: reconnect and resync" {
	fake_start bad-json
	dw_start -H "unix://$SOCK"
	dw_wait_count 2 '^done docker$'
	grep -q 'invalid event from the Docker daemon (truncated JSON): {"Type":"container","Action":' "$DW_ERR"
	grep -q "reconnecting" "$DW_ERR"
}

@test "oversized inspect: reconnect, nothing emitted" {
	fake_start big-inspect
	dw_start -H "unix://$SOCK"
	for i in $(seq 1 100); do
		[ "$(grep -c 'larger than' "$DW_ERR")" -ge 2 ] && break
		sleep 0.1
	done
	grep -q "response to an inspect is larger than 4194304 bytes; reconnecting" "$DW_ERR"
	not grep -q '^add ' "$DW_OUT"
	not grep -q '^done ' "$DW_OUT"
	kill -0 "$DW_PID"
}

@test "truncated inspect: reconnect, nothing emitted" {
	fake_start cut-inspect
	dw_start -H "unix://$SOCK"
	for i in $(seq 1 100); do
		[ "$(grep -c '^/_ping$' "$SOCK.requests")" -ge 2 ] && break
		sleep 0.1
	done
	grep -q "inspect of container [0-9a-f]\{12\}: invalid JSON from the Docker daemon: truncated JSON; reconnecting" "$DW_ERR"
	[ "$(grep -c '^/_ping$' "$SOCK.requests")" -ge 2 ]
	[ ! -s "$DW_OUT" ]
	kill -0 "$DW_PID"
}

@test "inspect error: status and message logged" {
	fake_start inspect-500
	dw_start -H "unix://$SOCK"
	dw_wait_line '^done docker$'
	grep -q "inspect of a container failed: HTTP 500: injected failure" "$DW_ERR"
	[ "$(sed -n '/^sync/,/^done/p' "$DW_OUT")" = "$(printf 'sync docker\ndone docker')" ]
}

@test "daemon too old: rejected and retried" {
	fake_start replay 1.39
	dw_start -H "unix://$SOCK"
	for i in $(seq 1 50); do
		[ "$(grep -c '^/_ping$' "$SOCK.requests")" -ge 2 ] && break
		sleep 0.1
	done
	grep -q "the Docker daemon speaks API 1.39; docker-watch needs 1.40 or later" "$DW_ERR"
	[ "$(grep -c '^/_ping$' "$SOCK.requests")" -ge 2 ]
	not grep -q '/events' "$SOCK.requests"
	[ ! -s "$DW_OUT" ]
}
