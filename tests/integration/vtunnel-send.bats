#!/usr/bin/env bats
# vtunnel-send against a stand-in for the Privileged Service that decodes
# one JSON object per connection and records the exact bytes.  The
# sender's --interface is lo (127.0.0.1/8 and ::1/128), or a veth in a
# private network namespace for the address-change test.

load helpers/vtunnel

# connectAddrs of lo, as every message in these tests carries them.
LO='"connectAddrs":[{"network":"ip+net","addr":"127.0.0.1/8"},{"network":"ip+net","addr":"::1/128"}]'

setup() {
	vt_init
	RECORD=$VT_DIR/record
	SOCK=unix:$VT_DIR/service.sock
}

teardown() {
	local status=0
	sender_kill
	receiver_stop
	if [ -n "${VT_NETNS:-}" ]; then
		ip netns del "$VT_NETNS" 2>/dev/null || true
	fi
	# Every message must be one object, a newline, and nothing else.
	receiver_errors "$RECORD" || status=1
	[ -n "${VT_KEEP:-}" ] || rm -rf "$VT_DIR"
	return $status
}

@test "one owner with several ports is one message" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/web tcp 0.0.0.0 8080 80 target_ip=172.17.0.2" \
	     "add docker/web tcp 0.0.0.0 8443 443" \
	     "add docker/web tcp 127.0.0.1 9000 -"
	wait_lines "$RECORD" 1
	run sed -n 1p "$RECORD"
	[ "$output" = '{"remove":false,"ports":{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8443"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}],"9000/tcp":[{"HostIp":"127.0.0.1","HostPort":"9000"}]},'"$LO"'}' ]
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	[ ! -e "$RECORD.errors" ]
}

@test "tcp and udp of one port" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/dns udp 0.0.0.0 5353 53" "add docker/dns tcp 0.0.0.0 5353 53"
	wait_lines "$RECORD" 1
	run sed -n 1p "$RECORD"
	[ "$output" = '{"remove":false,"ports":{"53/tcp":[{"HostIp":"0.0.0.0","HostPort":"5353"}],"53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"}]},'"$LO"'}' ]
}

@test "IPv6 host addresses are sent as text" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/v6 tcp :: 8080 80" "add docker/v6 tcp 0.0.0.0 8080 80" \
	     "add docker/v6 tcp 2001:db8:0:0::1 8081 81"
	wait_lines "$RECORD" 1
	run sed -n 1p "$RECORD"
	[ "$output" = '{"remove":false,"ports":{"80/tcp":[{"HostIp":"::","HostPort":"8080"},{"HostIp":"0.0.0.0","HostPort":"8080"}],"81/tcp":[{"HostIp":"2001:db8::1","HostPort":"8081"}]},'"$LO"'}' ]
}

@test "tcp IPv4 and tcp IPv6 service addresses" {
	local port
	port=$(vt_port)
	receiver_start "tcp:127.0.0.1:$port" "$RECORD"
	sender_start --to "tcp:127.0.0.1:$port" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	sender_finish
	receiver_stop
	port=$(vt_port)
	receiver_start "tcp:[::1]:$port" "$RECORD.v6"
	sender_start --to "tcp:[::1]:$port" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD.v6" 1
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	[ "$(sed -n 1p "$RECORD.v6")" = "$(sed -n 1p "$RECORD")" ]
}

@test "del sends remove with exactly those bindings" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/web tcp 0.0.0.0 8080 80" "add docker/web tcp 0.0.0.0 8443 443"
	wait_lines "$RECORD" 1
	send "del docker/web tcp 0.0.0.0 8443 443"
	wait_lines "$RECORD" 2
	run sed -n 2p "$RECORD"
	[ "$output" = '{"remove":true,"ports":{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8443"}]},'"$LO"'}' ]
	# A del of a binding that was never added sends nothing.
	send "del docker/web tcp 0.0.0.0 9999 99" "add docker/other tcp 0.0.0.0 7000 70"
	wait_lines "$RECORD" 3
	run sed -n 3p "$RECORD"
	[ "$output" = '{"remove":false,"ports":{"70/tcp":[{"HostIp":"0.0.0.0","HostPort":"7000"}]},'"$LO"'}' ]
}

@test "snapshot withdraws only dropped bindings" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "sync docker" "add docker/a tcp 0.0.0.0 8080 80" "add docker/b tcp 0.0.0.0 8081 81" \
	     "done docker" "add iptables/x tcp 0.0.0.0 9090 90"
	wait_lines "$RECORD" 3
	# A restart of the source: a keeps its port, b is gone.
	send "sync docker" "add docker/a tcp 0.0.0.0 8080 80" "done docker"
	wait_lines "$RECORD" 4
	run sed -n 4p "$RECORD"
	[ "$output" = '{"remove":true,"ports":{"81/tcp":[{"HostIp":"0.0.0.0","HostPort":"8081"}]},'"$LO"'}' ]
	sender_finish
	# End of input withdraws what is left: a and the iptables binding.
	[ "$(wc -l < "$RECORD")" = 6 ]
	grep -qxF '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' "$RECORD"
	grep -qxF '{"remove":true,"ports":{"90/tcp":[{"HostIp":"0.0.0.0","HostPort":"9090"}]},'"$LO"'}' "$RECORD"
}

@test "receiver down then up loses and duplicates nothing" {
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80" "add docker/b udp 0.0.0.0 5353 53"
	wait_grep "$SEND_ERR" "retrying in"
	send "add docker/a tcp 0.0.0.0 8443 443"
	receiver_start "$SOCK" "$RECORD"
	wait_grep "$SEND_ERR" "recovered"
	wait_lines "$RECORD" 2
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	run cat "$RECORD"
	[ "${lines[0]}" = '{"remove":false,"ports":{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8443"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
	[ "${lines[1]}" = '{"remove":false,"ports":{"53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"}]},'"$LO"'}' ]
	[ "${#lines[@]}" = 4 ]
	grep -q "No such file or directory" "$SEND_ERR"
	grep -qF "$SOCK" "$SEND_ERR"
}

@test "backoff doubles from 100 ms to 5 s" {
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_grep "$SEND_ERR" "retrying in 5000 ms"
	# One warning per failed attempt, each with the next delay.
	run sh -c "grep -o 'retrying in [0-9]* ms' '$SEND_ERR' | cut -d' ' -f3 | tr '\n' ' '"
	[ "$output" = "100 200 400 800 1600 3200 5000 " ]
	receiver_start "$SOCK" "$RECORD"
	wait_lines "$RECORD" 1
	wait_grep "$SEND_ERR" "recovered after 7 failed attempts"
}

@test "SIGUSR1 logs delivery state and owners" {
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80" "add docker/b tcp :: 7000 70"
	wait_grep "$SEND_ERR" "retrying in"
	kill -USR1 "$SEND_PID"
	wait_grep "$SEND_ERR" "vtunnel-send: info: state: idle, sending to $SOCK; 2 bindings, 2 owners, 2 owners with changes to send, 0 endpoints delivered; "
	wait_grep "$SEND_ERR" "vtunnel-send: info: state: owner docker/a: tcp 0.0.0.0:8080 not delivered yet"
	wait_grep "$SEND_ERR" "vtunnel-send: info: state: owner docker/b: tcp [::]:7000 not delivered yet"
	grep -Eq "vtunnel-send: info: state: next attempt in [0-9]+ ms" "$SEND_ERR"
	receiver_start "$SOCK" "$RECORD"
	wait_lines "$RECORD" 2
	wait_grep "$SEND_ERR" "recovered"
	kill -USR1 "$SEND_PID"
	wait_grep "$SEND_ERR" "state: owner docker/a: tcp 0.0.0.0:8080 delivered"
	wait_grep "$SEND_ERR" "2 owners, 0 owners with changes to send, 2 endpoints delivered; 0 failed attempts; 2 addresses of lo"
	kill -0 "$SEND_PID"
	# The dump sends nothing.
	sleep 0.2
	[ "$(wc -l < "$RECORD")" -eq 2 ]
}

@test "SIGUSR1 lists at most 1000 owners" {
	sender_start --print --interface lo
	local i
	for i in $(seq 1 1005); do
		echo "add docker/o$i tcp 0.0.0.0 $((20000 + i)) 80"
	done >&7
	wait_lines "$SEND_OUT" 1005
	kill -USR1 "$SEND_PID"
	wait_grep "$SEND_ERR" "vtunnel-send: info: state: 5 more owners not shown"
	grep -qF "state: idle, sending to stdout (--print); 1005 bindings, 1005 owners, 0 owners with changes to send, 1005 endpoints delivered" "$SEND_ERR"
	[ "$(grep -c 'vtunnel-send: info: state: owner docker/o' "$SEND_ERR")" -eq 1000 ]
	kill -0 "$SEND_PID"
}

@test "add and del while down send nothing" {
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_grep "$SEND_ERR" "retrying in"
	send "del docker/a tcp 0.0.0.0 8080 80" "add docker/b tcp 0.0.0.0 7000 70"
	receiver_start "$SOCK" "$RECORD"
	wait_lines "$RECORD" 1
	sender_finish
	run cat "$RECORD"
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]}" = '{"remove":false,"ports":{"70/tcp":[{"HostIp":"0.0.0.0","HostPort":"7000"}]},'"$LO"'}' ]
	[ "${lines[1]}" = '{"remove":true,"ports":{"70/tcp":[{"HostIp":"0.0.0.0","HostPort":"7000"}]},'"$LO"'}' ]
}

@test "reset by a relay is retried once delivered" {
	receiver_start "$SOCK" "$RECORD" --reset-first 2
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	sender_finish
	[ "$(grep -c '"remove":false' "$RECORD")" = 1 ]
	[ "$(grep -c 'retrying in' "$SEND_ERR")" = 2 ]
}

@test "slow receiver times out without blocking input" {
	local A='{"remove":false,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}'
	local B='{"remove":false,"ports":{"81/tcp":[{"HostIp":"0.0.0.0","HostPort":"8081"}]},'"$LO"'}'
	receiver_start "$SOCK" "$RECORD" --stall-first 1
	sender_start --to "$SOCK" --interface lo --timeout 300
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_grep "$SEND_ERR" "timed out"
	# Input is still read while the service hangs.
	send "add docker/b tcp 0.0.0.0 8081 81"
	wait_grep "$RECORD" '"HostPort":"8081"'
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	# Attempts that timed out after their message was written wait in the
	# service's backlog and are decoded late, so a's add may arrive more
	# than once; every binding is still withdrawn exactly once at the end.
	[ "$(grep -cxF "$A" "$RECORD")" -ge 1 ]
	[ "$(grep -cxF "$B" "$RECORD")" = 1 ]
	[ "$(grep -cxF "${A/false/true}" "$RECORD")" = 1 ]
	[ "$(grep -cxF "${B/false/true}" "$RECORD")" = 1 ]
	[ "$(tail -2 "$RECORD" | grep -c '"remove":true')" = 2 ]
}

@test "timed-out add is withdrawn at shutdown" {
	# The service decodes the add late, after the sender gave up waiting:
	# the binding may be forwarded, so the shutdown withdraws it anyway.
	receiver_start "$SOCK" "$RECORD" --stall-first 1
	sender_start --to "$SOCK" --interface lo --timeout 300
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_grep "$SEND_ERR" "timed out"
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	wait_grep "$RECORD" '"remove":true'
	run tail -1 "$RECORD"
	[ "$output" = '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
}

@test "SIGTERM withdraws everything and exits 0" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80" "add docker/a udp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	kill -TERM "$SEND_PID"
	wait "$SEND_PID" && status=0 || status=$?
	SEND_PID=
	[ "$status" = 0 ]
	run sed -n 2p "$RECORD"
	[ "$output" = '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}],"80/udp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
	grep -q "SIGTERM" "$SEND_ERR"
}

@test "SIGINT with the receiver gone gives up within the limit" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	receiver_stop
	kill -INT "$SEND_PID"
	# 3 s limit, with slack for a loaded machine; retrying forever fails.
	wait_exit "$SEND_PID" 8
	SEND_PID=
	[ "$EXIT_STATUS" = 0 ]
	grep -q "could not withdraw 1 bindings of 1 owners" "$SEND_ERR"
}

@test "SIGTERM with a hung receiver gives up within the limit" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo --timeout 600000
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	receiver_stop
	# Connects and writes succeed, but no close ever comes and the
	# delivery timeout is 10 minutes: only the 3 s limit ends the wait.
	receiver_start "$SOCK" "$RECORD" --hang
	kill -TERM "$SEND_PID"
	wait_exit "$SEND_PID" 8
	SEND_PID=
	[ "$EXIT_STATUS" = 0 ]
	grep -q "could not withdraw 1 bindings of 1 owners" "$SEND_ERR"
}

@test "an add written but unconfirmed at shutdown is reported" {
	# The service may still decode an add whose close never came, so the
	# shutdown must not claim that everything was withdrawn.
	receiver_start "$SOCK" "$RECORD" --hang
	sender_start --to "$SOCK" --interface lo --timeout 600000
	send "add docker/a tcp 0.0.0.0 8080 80"
	# The connect and write to a listen backlog finish in milliseconds;
	# the sender then waits for a close that never comes.
	sleep 1
	kill -TERM "$SEND_PID"
	wait_exit "$SEND_PID" 8
	SEND_PID=
	[ "$EXIT_STATUS" = 0 ]
	grep -q "could not withdraw 1 bindings of 1 owners" "$SEND_ERR"
}

@test "changes of one binding while down keep their order" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80" "add docker/a tcp 0.0.0.0 8081 81"
	wait_lines "$RECORD" 1
	receiver_stop
	send "del docker/a tcp 0.0.0.0 8080 80"
	wait_grep "$SEND_ERR" "retrying in"
	# 8080: del, add, del ends withdrawn.  8081: del, add ends forwarded,
	# which the service already has.  8082: add, del, add ends forwarded.
	send "add docker/a tcp 0.0.0.0 8080 80" "del docker/a tcp 0.0.0.0 8081 81"
	send "add docker/a tcp 0.0.0.0 8082 82" "del docker/a tcp 0.0.0.0 8080 80"
	send "add docker/a tcp 0.0.0.0 8081 81" "del docker/a tcp 0.0.0.0 8082 82"
	send "add docker/a tcp 0.0.0.0 8082 82"
	receiver_start "$SOCK" "$RECORD"
	wait_lines "$RECORD" 3
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	run cat "$RECORD"
	[ "${#lines[@]}" = 4 ]
	[ "${lines[1]}" = '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
	[ "${lines[2]}" = '{"remove":false,"ports":{"82/tcp":[{"HostIp":"0.0.0.0","HostPort":"8082"}]},'"$LO"'}' ]
	[ "${lines[3]}" = '{"remove":true,"ports":{"81/tcp":[{"HostIp":"0.0.0.0","HostPort":"8081"}],"82/tcp":[{"HostIp":"0.0.0.0","HostPort":"8082"}]},'"$LO"'}' ]
}

@test "shared endpoint stays until its last owner goes" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	send "add iptables/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 2
	send "del docker/a tcp 0.0.0.0 8080 80" "add docker/z tcp 0.0.0.0 7000 70"
	wait_lines "$RECORD" 3
	# The del sent nothing, because iptables/a still holds 0.0.0.0:8080.
	grep -c '"remove":true' "$RECORD" | grep -qx 0
	send "del iptables/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 4
	run sed -n 4p "$RECORD"
	[ "$output" = '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
}

@test "invalid lines are logged and skipped" {
	receiver_start "$SOCK" "$RECORD"
	sender_start --to "$SOCK" --interface lo
	send "add docker/a tcp 0.0.0.0 99999 80" "bogus" "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	grep -q "line 1" "$SEND_ERR"
	grep -q "line 2" "$SEND_ERR"
	[ "$(wc -l < "$RECORD")" = 2 ]
}

@test "--print writes one message per line" {
	# docker/a is added and deleted before anything is sent: the two cancel.
	run sh -c "printf 'add docker/a tcp 0.0.0.0 8080 80\ndel docker/a tcp 0.0.0.0 8080 80\nadd docker/b tcp :: 53 -\n' |
		'$RDAGENT' vtunnel-send --print --interface lo 2>/dev/null"
	[ "$status" = 0 ]
	[ "${lines[0]}" = '{"remove":false,"ports":{"53/tcp":[{"HostIp":"::","HostPort":"53"}]},'"$LO"'}' ]
	[ "${lines[1]}" = '{"remove":true,"ports":{"53/tcp":[{"HostIp":"::","HostPort":"53"}]},'"$LO"'}' ]
	[ "${#lines[@]}" = 2 ]
}

# restored=1 says a sink before this one may have delivered the add: a
# del of it must be sent as a remove even though this process never sent
# the add, and end of input withdraws it too.
@test "restored add is withdrawn though never sent" {
	run sh -c "printf 'add docker/a tcp 0.0.0.0 8080 80 restored=1\ndel docker/a tcp 0.0.0.0 8080 80\n' |
		'$RDAGENT' vtunnel-send --print --interface lo 2>/dev/null"
	[ "$status" = 0 ]
	[ "${lines[0]}" = '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
	[ "${#lines[@]}" = 1 ]
	run sh -c "printf 'add docker/a tcp 0.0.0.0 8080 80 restored=1\n' |
		'$RDAGENT' vtunnel-send --print --interface lo 2>/dev/null"
	[ "$status" = 0 ]
	[ "${lines[0]}" = '{"remove":false,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
	[ "${lines[1]}" = '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'"$LO"'}' ]
	[ "${#lines[@]}" = 2 ]
}

@test "invalid options exit 2" {
	run "$RDAGENT" vtunnel-send --to tcp:localhost:3040 < /dev/null
	[ "$status" = 2 ]
	[[ "$output" == *"invalid --to address"* ]]
	run "$RDAGENT" vtunnel-send --to vsock:ANY:17381 < /dev/null
	[ "$status" = 2 ]
	run "$RDAGENT" vtunnel-send --timeout 0 < /dev/null
	[ "$status" = 2 ]
	run "$RDAGENT" vtunnel-send extra < /dev/null
	[ "$status" = 2 ]
}

@test "interface address change resends with new connectAddrs" {
	VT_NETNS=vtunnel-$$-$RANDOM
	ip netns add "$VT_NETNS"
	ip netns exec "$VT_NETNS" ip link add vt0 type veth peer name vt1
	ip netns exec "$VT_NETNS" ip addr add 192.0.2.2/24 dev vt0
	receiver_start "$SOCK" "$RECORD"
	SEND_ERR=$VT_DIR/send.err
	mkfifo "$VT_DIR/send.fifo"
	ip netns exec "$VT_NETNS" "$RDAGENT" vtunnel-send --to "$SOCK" --interface vt0 \
		< "$VT_DIR/send.fifo" 2> "$SEND_ERR" 3>&- &
	SEND_PID=$!
	exec 7> "$VT_DIR/send.fifo"
	send "add docker/a tcp 0.0.0.0 8080 80"
	wait_lines "$RECORD" 1
	local P='"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}'
	local A2='{"network":"ip+net","addr":"192.0.2.2/24"}'
	local A3='{"network":"ip+net","addr":"198.51.100.3/25"}'
	local A6='{"network":"ip+net","addr":"2001:db8::3/64"}'
	[ "$(sed -n 1p "$RECORD")" = '{"remove":false,'"$P"',"connectAddrs":['"$A2"']}' ]

	ip netns exec "$VT_NETNS" ip addr add 198.51.100.3/25 dev vt0
	wait_lines "$RECORD" 3
	[ "$(sed -n 2p "$RECORD")" = '{"remove":true,'"$P"',"connectAddrs":['"$A2"']}' ]
	[ "$(sed -n 3p "$RECORD")" = '{"remove":false,'"$P"',"connectAddrs":['"$A2,$A3"']}' ]

	ip netns exec "$VT_NETNS" ip -6 addr add 2001:db8::3/64 dev vt0 nodad
	wait_lines "$RECORD" 5
	[ "$(sed -n 4p "$RECORD")" = '{"remove":true,'"$P"',"connectAddrs":['"$A2,$A3"']}' ]
	[ "$(sed -n 5p "$RECORD")" = '{"remove":false,'"$P"',"connectAddrs":['"$A2,$A3,$A6"']}' ]

	ip netns exec "$VT_NETNS" ip addr del 192.0.2.2/24 dev vt0
	wait_lines "$RECORD" 7
	[ "$(sed -n 6p "$RECORD")" = '{"remove":true,'"$P"',"connectAddrs":['"$A2,$A3,$A6"']}' ]
	[ "$(sed -n 7p "$RECORD")" = '{"remove":false,'"$P"',"connectAddrs":['"$A3,$A6"']}' ]
	grep -q "addresses changed" "$SEND_ERR"
	sender_finish
	[ "$SEND_STATUS" = 0 ]
}
