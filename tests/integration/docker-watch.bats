#!/usr/bin/env bats
# docker-watch against a real dockerd (Debian's docker.io) that runs in a
# network namespace of its own with private paths; the image is built by
# "docker import" from busybox-static, so no registry is needed.

load helpers/common
load helpers/docker
load helpers/docker-watch

setup_file() {
	docker_start "dw-$BATS_ROOT_PID"
	docker_image
}

teardown_file() {
	docker_stop
}

setup() {
	DW_PID=
}

teardown() {
	dw_stop
	d ps -aq | xargs -r docker --host "$DOCKER_HOST" rm -f >/dev/null 2>&1 || true
	if [ -n "${DW_ERR:-}" ] && [ -f "$DW_ERR" ]; then
		echo "--- docker-watch log:"
		tail -40 "$DW_ERR"
	fi
}

run_container() {
	d run -d "$@" "$DOCKER_IMAGE" sleep 1000
}

@test "once: snapshot of running containers" {
	a=$(run_container -p 8080:80 -p 127.0.0.1:9090:80)
	b=$(run_container --expose 80)
	ip=$(d inspect -f '{{.NetworkSettings.IPAddress}}' "$a")
	ip6=$(d inspect -f '{{.NetworkSettings.GlobalIPv6Address}}' "$a")
	run dw_once -H "$DOCKER_HOST"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sync docker" ]
	[ "${lines[${#lines[@]}-1]}" = "done docker" ]
	[ "${#lines[@]}" -eq 5 ]
	printf '%s\n' "${lines[@]}" | grep -qx "add docker/$a tcp 0.0.0.0 8080 80 target_ip=$ip"
	printf '%s\n' "${lines[@]}" | grep -qx "add docker/$a tcp :: 8080 80 target_ip=$ip6"
	printf '%s\n' "${lines[@]}" | grep -qx "add docker/$a tcp 127.0.0.1 9090 80 target_ip=$ip"
	not grep -q "$b" <<< "$output"
}

@test "once: DOCKER_HOST and --source" {
	a=$(run_container -p 8081:80)
	run env DOCKER_HOST="$DOCKER_HOST" bash -c '"$0" docker-watch --once --source moby 2>/dev/null' "$RDAGENT"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sync moby" ]
	printf '%s\n' "${lines[@]}" | grep -q "^add moby/$a tcp 0.0.0.0 8081 80 "
	[ "${lines[${#lines[@]}-1]}" = "done moby" ]
}

@test "once: missing socket exits 111" {
	run "$RDAGENT" docker-watch --once -H "unix://$BATS_TEST_TMPDIR/none.sock"
	[ "$status" -eq 111 ]
	[[ "$output" == *"none.sock failed"* ]]
}

@test "host: tcp scheme rejected" {
	run "$RDAGENT" docker-watch -H tcp://127.0.0.1:2375
	[ "$status" -eq 2 ]
	[[ "$output" == *"only unix:// sockets are supported"* ]]
	run env DOCKER_HOST=tcp://127.0.0.1:2375 "$RDAGENT" docker-watch
	[ "$status" -eq 1 ]
	[[ "$output" == *"invalid DOCKER_HOST"* ]]
}

@test "start and stop: every published form" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(run_container -p 8080:80 -p 127.0.0.1:9090:80 -p 5353:53/udp -p 7000-7002:7000-7002)
	dw_wait_count 9 "^add docker/$a "
	ip=$(d inspect -f '{{.NetworkSettings.IPAddress}}' "$a")
	ip6=$(d inspect -f '{{.NetworkSettings.GlobalIPv6Address}}' "$a")
	s=${a:0:12}
	run dw_lines_for "$a"
	sorted=$(printf '%s\n' "${lines[@]}" | sort)
	expected=$(printf '%s\n' \
		"add docker/$s tcp 0.0.0.0 7000 7000 target_ip=$ip" \
		"add docker/$s tcp 0.0.0.0 7001 7001 target_ip=$ip" \
		"add docker/$s tcp 0.0.0.0 7002 7002 target_ip=$ip" \
		"add docker/$s tcp 0.0.0.0 8080 80 target_ip=$ip" \
		"add docker/$s tcp 127.0.0.1 9090 80 target_ip=$ip" \
		"add docker/$s tcp :: 7000 7000 target_ip=$ip6" \
		"add docker/$s tcp :: 7001 7001 target_ip=$ip6" \
		"add docker/$s tcp :: 7002 7002 target_ip=$ip6" \
		"add docker/$s tcp :: 8080 80 target_ip=$ip6" \
		"add docker/$s udp 0.0.0.0 5353 53 target_ip=$ip" \
		"add docker/$s udp :: 5353 53 target_ip=$ip6" | sort)
	dw_wait_count 11 "^add docker/$a "
	run dw_lines_for "$a"
	[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$expected" ]
	d stop -t 1 "$a"
	dw_wait_count 11 "^del docker/$a "
	# Every del matches an add, and nothing is left.
	[ "$(grep -c "^del docker/$a " "$DW_OUT")" -eq 11 ]
	[ -z "$(dw_state "$DW_OUT")" ]
	dw_no_repeats "$DW_OUT"
}

@test "publish all and ephemeral ports" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(d run -d -P --expose 81 -p 80 "$DOCKER_IMAGE" sleep 1000)
	p80=$(d port "$a" 80/tcp | sed -n 's/^0\.0\.0\.0://p')
	p81=$(d port "$a" 81/tcp | sed -n 's/^0\.0\.0\.0://p')
	[ -n "$p80" ]
	[ -n "$p81" ]
	dw_wait_line "^add docker/$a tcp 0.0.0.0 $p80 80 "
	dw_wait_line "^add docker/$a tcp 0.0.0.0 $p81 81 "
}

@test "ipv6 host addresses" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(run_container -p '[::1]:9091:80' -p 8082:80)
	ip=$(d inspect -f '{{.NetworkSettings.IPAddress}}' "$a")
	ip6=$(d inspect -f '{{.NetworkSettings.GlobalIPv6Address}}' "$a")
	[ -n "$ip6" ]
	# IPv6 host addresses target the container's IPv6 address, as
	# docker-proxy does.
	dw_wait_line "^add docker/$a tcp ::1 9091 80 target_ip=$ip6\$"
	dw_wait_line "^add docker/$a tcp :: 8082 80 target_ip=$ip6\$"
	dw_wait_line "^add docker/$a tcp 0.0.0.0 8082 80 target_ip=$ip\$"
}

@test "kill and rm -f withdraw" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(run_container -p 8083:80)
	b=$(run_container -p 8084:80)
	dw_wait_count 2 "^add docker/$a "
	dw_wait_count 2 "^add docker/$b "
	# A signal the process survives changes nothing.
	c=$(d run -d -p 8085:80 "$DOCKER_IMAGE" sh -c 'trap "" HUP; sleep 1000 & wait')
	dw_wait_count 2 "^add docker/$c "
	d kill -s HUP "$c"
	d kill "$a"
	d rm -f "$b"
	dw_wait_count 2 "^del docker/$a "
	dw_wait_count 2 "^del docker/$b "
	[ "$(d inspect -f '{{.State.Running}}' "$c")" = true ]
	run dw_state "$DW_OUT"
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "docker/$c "* ]]
	[[ "${lines[1]}" == "docker/$c "* ]]
	dw_no_repeats "$DW_OUT"
}

# Disconnected from its only network, a running container publishes no
# port (docker-proxy and the NAT rules go); connected again, it does.
@test "network disconnect and connect" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(run_container -p 8086:80)
	dw_wait_count 2 "^add docker/$a "
	d network disconnect bridge "$a"
	dw_wait_count 2 "^del docker/$a "
	[ "$(d inspect -f '{{.State.Running}}' "$a")" = true ]
	run dw_state "$DW_OUT"
	[ "${#lines[@]}" -eq 0 ]
	d network connect bridge "$a"
	dw_wait_count 4 "^add docker/$a "
	run dw_state "$DW_OUT"
	[ "${#lines[@]}" -eq 2 ]
	dw_no_repeats "$DW_OUT"
}

@test "restart policy loop" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(d run -d --restart=always -p 6000:80 "$DOCKER_IMAGE" sh -c 'sleep 1; exit 3')
	# The daemon restarts it several times: die, start, die, ... with no
	# restart event; each run's ports come and go.
	dw_wait_count 4 "^del docker/$a " 60
	d update --restart=no "$a"
	d stop -t 1 "$a"
	# Whatever the phase the loop was in, nothing is left.
	dw_wait_empty
	[ "$(grep -c "^add docker/$a " "$DW_OUT")" -eq "$(grep -c "^del docker/$a " "$DW_OUT")" ]
	dw_no_repeats "$DW_OUT"
}

@test "stop during restart backoff withdraws" {
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	a=$(d run -d --restart=always -p 6001:80 "$DOCKER_IMAGE" sh -c 'sleep 1; exit 3')
	dw_wait_count 2 "^add docker/$a "
	# Wait for a restart backoff (the container exited and waits).
	for i in $(seq 1 200); do
		[ "$(d inspect -f '{{.State.Restarting}}' "$a")" = true ] && break
		sleep 0.05
	done
	d stop -t 1 "$a"
	dw_wait_empty
}

@test "started before dockerd" {
	docker_daemon_stop
	dw_start -H "$DOCKER_HOST"
	sleep 1
	kill -0 "$DW_PID"
	grep -q "waiting for the Docker daemon" "$DW_ERR"
	[ ! -s "$DW_OUT" ]
	docker_daemon_start
	dw_wait_line '^done docker$'
	a=$(run_container -p 8086:80)
	dw_wait_line "^add docker/$a tcp 0.0.0.0 8086 80 "
	# Waiting was logged once, not per attempt.
	[ "$(grep -c "waiting for the Docker daemon" "$DW_ERR")" -eq 1 ]
}

@test "daemon restart: snapshot drops only what died" {
	a=$(d run -d --restart=always -p 8087:80 "$DOCKER_IMAGE" sleep 1000)
	b=$(run_container -p 8088:80)
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	grep -q "^add docker/$a tcp 0.0.0.0 8087 " "$DW_OUT"
	grep -q "^add docker/$b tcp 0.0.0.0 8088 " "$DW_OUT"
	docker_daemon_stop
	docker_daemon_start
	# The restart-policy container comes back; the other stays stopped.
	dw_wait_count 2 '^done docker$' 60
	dw_wait_line "^add docker/$a tcp 0.0.0.0 8087 "
	for i in $(seq 1 100); do
		dw_state "$DW_OUT" | grep -q "docker/$a tcp 0.0.0.0 8087" && break
		sleep 0.1
	done
	run dw_state "$DW_OUT"
	printf '%s\n' "${lines[@]}" | grep -q "^docker/$a tcp 0.0.0.0 8087 80$"
	not grep -q "docker/$b" <<< "$output"
	grep -q "reconnecting" "$DW_ERR"
	kill -0 "$DW_PID"
	dw_no_repeats "$DW_OUT"
}

@test "daemon restart with live-restore: no churn" {
	docker_daemon_stop
	DOCKER_DAEMON_ARGS=--live-restore docker_daemon_start
	a=$(run_container -p 8089:80)
	b=$(run_container -p 8090:80)
	dw_start -H "$DOCKER_HOST"
	dw_wait_line '^done docker$'
	dw_wait_count 2 "^add docker/$b "
	# The containers outlive the daemon; b's process dies while the daemon
	# is down, so only the snapshot after the reconnect can tell.
	pid=$(d inspect -f '{{.State.Pid}}' "$b")
	DOCKER_DAEMON_ARGS=--live-restore docker_daemon_stop
	kill -KILL "$pid"
	DOCKER_DAEMON_ARGS=--live-restore docker_daemon_start
	dw_wait_count 2 '^done docker$' 60
	for i in $(seq 1 100); do
		dw_state "$DW_OUT" | grep -q "docker/$b" || break
		sleep 0.1
	done
	run dw_state "$DW_OUT"
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "docker/$a tcp "* ]]
	[[ "${lines[1]}" == "docker/$a tcp "* ]]
	# The running container was never withdrawn.
	not grep -q "^del docker/$a " "$DW_OUT"
	d rm -f "$a" "$b" >/dev/null
	docker_daemon_stop
	docker_daemon_start
}
