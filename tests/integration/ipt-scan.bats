#!/usr/bin/env bats
# ipt-scan against the kernel's NAT table: every test writes rules into a
# network namespace of its own with iptables (nf_tables backend),
# iptables-legacy, ip6tables, nft or the CNI portmap plugin, and runs
# ipt-scan inside that namespace.

load helpers/common
load helpers/ipt-scan
bats_require_minimum_version 1.5.0

setup_file() {
	[ -x "${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}" ]
}

teardown_file() {
	# Namespaces of tests that were interrupted before their teardown.
	for ns in $(ip netns list | awk '{ print $1 }' | grep "^iptscan-$BATS_ROOT_PID-" || true); do
		ip netns del "$ns" || true
	done
}

setup() {
	ns_setup
}

teardown() {
	ns_teardown
}

@test "portmap shapes written before start are in the snapshot" {
	portmap_rules iptables CNI-DN-2e2f8d5b91929ef9fc152 8081 10.4.0.7 127.0.0.1/32
	portmap_rules iptables CNI-DN-04579c7bb67f4c3f6cca0 8082 10.4.0.10
	in_ns iptables -t nat -A CNI-DN-04579c7bb67f4c3f6cca0 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.4.0.10:53
	run --separate-stderr ip netns exec "$NS" "$RDAGENT" ipt-scan --once
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sync iptables" ]
	[ "${lines[1]}" = "add iptables/CNI-DN-04579c7bb67f4c3f6cca0 tcp 0.0.0.0 8082 80 target_ip=10.4.0.10" ]
	[ "${lines[2]}" = "add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 5353 53 target_ip=10.4.0.10" ]
	[ "${lines[3]}" = "add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 127.0.0.1 8081 80 target_ip=10.4.0.7" ]
	[ "${lines[4]}" = "done iptables" ]
	[ "${#lines[@]}" -eq 5 ]
}

@test "rule added, deleted and chain flushed" {
	scan_start --backend nft
	[ "$(cat "$DIR/out")" = "$(printf 'sync iptables\ndone iptables')" ]
	portmap_rules iptables CNI-DN-aaa 8081 10.4.0.7 127.0.0.1/32
	wait_for_line '^add iptables/CNI-DN-aaa tcp 127.0.0.1 8081 80 target_ip=10.4.0.7$'
	in_ns iptables -t nat -A CNI-DN-aaa -p udp -m udp --dport 9000:9002 -j DNAT --to-destination 10.4.0.7
	wait_for_line '^add iptables/CNI-DN-aaa udp 0.0.0.0 9002 - target_ip=10.4.0.7$'
	in_ns iptables -t nat -D CNI-DN-aaa -d 127.0.0.1/32 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.4.0.7:80
	wait_for_line '^del iptables/CNI-DN-aaa tcp 127.0.0.1 8081 80 target_ip=10.4.0.7$'
	in_ns iptables -t nat -F CNI-DN-aaa
	wait_for_line '^del iptables/CNI-DN-aaa udp 0.0.0.0 900[0-2] - target_ip=10.4.0.7$' 3
	# Nothing else was emitted: the SETMARK rule and the jump do not count.
	[ "$(grep -c '^add ' "$DIR/out")" -eq 4 ]
	[ "$(grep -c '^del ' "$DIR/out")" -eq 4 ]
}

@test "iptables-legacy rules in legacy mode" {
	portmap_rules iptables-legacy CNI-DN-leg 8081 10.4.0.7 127.0.0.1/32
	scan_start --backend legacy --interval 1
	grep -qx 'add iptables/CNI-DN-leg tcp 127.0.0.1 8081 80 target_ip=10.4.0.7' "$DIR/out"
	in_ns iptables-legacy -t nat -A CNI-DN-leg -p udp -m udp --dport 5353 -j DNAT --to-destination 10.4.0.7:53
	wait_for_line '^add iptables/CNI-DN-leg udp 0.0.0.0 5353 53 target_ip=10.4.0.7$'
	in_ns iptables-legacy -t nat -F CNI-DN-leg
	wait_for_line '^del iptables/CNI-DN-leg udp 0.0.0.0 5353 53 target_ip=10.4.0.7$'
	wait_for_line '^del iptables/CNI-DN-leg tcp 127.0.0.1 8081 80 target_ip=10.4.0.7$'
}

@test "ip6tables and ip6tables-legacy rules" {
	portmap_rules ip6tables CNI-DN-six 8086 '[fd00:4::7]' ::1/128
	portmap_rules ip6tables-legacy CNI-DN-six-legacy 8087 '[fd00:4::8]'
	run --separate-stderr ip netns exec "$NS" "$RDAGENT" ipt-scan --once
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "add iptables/CNI-DN-six tcp ::1 8086 80 target_ip=fd00:4::7" ]
	[ "${lines[2]}" = "add iptables/CNI-DN-six-legacy tcp :: 8087 80 target_ip=fd00:4::8" ]
	[ "${#lines[@]}" -eq 4 ]
}

@test "nft rules and the portmap nftables backend" {
	in_ns nft -f - <<'EOF'
table ip nat {
	chain CNI-DN-native {
		tcp dport 9100-9101 dnat to 10.4.0.10:100
		ip daddr 127.0.0.1 udp dport 9102 dnat to 10.4.0.10
	}
}
table ip cni_hostport {
	chain hostports { tcp dport 9090 dnat to 10.4.0.9:90 comment "0123abcd"; }
	chain hostip_hostports { ip daddr 127.0.0.1 udp dport 9091 dnat to 10.4.0.9:91 comment "0123abcd"; }
	chain prerouting { type nat hook prerouting priority dstnat; jump hostip_hostports; jump hostports; }
}
table ip6 cni_hostport {
	chain hostports { tcp dport 9092 dnat to [fd00::9]:92 comment "0123abcd"; }
}
EOF
	scan_start
	grep -qx 'add iptables/CNI-DN-native tcp 0.0.0.0 9100 100 target_ip=10.4.0.10' "$DIR/out"
	grep -qx 'add iptables/CNI-DN-native tcp 0.0.0.0 9101 100 target_ip=10.4.0.10' "$DIR/out"
	grep -qx 'add iptables/CNI-DN-native udp 127.0.0.1 9102 - target_ip=10.4.0.10' "$DIR/out"
	grep -qx 'add iptables/cni_hostport/0123abcd tcp 0.0.0.0 9090 90 target_ip=10.4.0.9' "$DIR/out"
	grep -qx 'add iptables/cni_hostport/0123abcd udp 127.0.0.1 9091 91 target_ip=10.4.0.9' "$DIR/out"
	grep -qx 'add iptables/cni_hostport/0123abcd tcp :: 9092 92 target_ip=fd00::9' "$DIR/out"
	[ "$(grep -c '^add ' "$DIR/out")" -eq 6 ]
	# The plugin deletes a container's rules by their comment.
	in_ns nft add rule ip cni_hostport hostports tcp dport 9093 dnat to 10.4.0.11:93 comment '"4567ef"'
	wait_for_line '^add iptables/cni_hostport/4567ef tcp 0.0.0.0 9093 93 target_ip=10.4.0.11$'
	in_ns nft delete table ip cni_hostport
	wait_for_line '^del iptables/cni_hostport/4567ef tcp 0.0.0.0 9093 93 target_ip=10.4.0.11$'
	wait_for_line '^del iptables/cni_hostport/0123abcd udp 127.0.0.1 9091 91 target_ip=10.4.0.9$'
	not grep -q '^del .* 9092 ' "$DIR/out"
}

@test "nft and legacy rules in one namespace" {
	portmap_rules iptables CNI-DN-nft 8081 10.4.0.7
	portmap_rules iptables-legacy CNI-DN-legacy 8082 10.4.0.8
	scan_start --interval 1
	grep -qx 'add iptables/CNI-DN-nft tcp 0.0.0.0 8081 80 target_ip=10.4.0.7' "$DIR/out"
	grep -qx 'add iptables/CNI-DN-legacy tcp 0.0.0.0 8082 80 target_ip=10.4.0.8' "$DIR/out"
	in_ns iptables-legacy -t nat -A CNI-DN-legacy -p tcp -m tcp --dport 8083 -j DNAT --to-destination 10.4.0.8:83
	wait_for_line '^add iptables/CNI-DN-legacy tcp 0.0.0.0 8083 83 target_ip=10.4.0.8$'
	in_ns iptables -t nat -A CNI-DN-nft -p tcp -m tcp --dport 8084 -j DNAT --to-destination 10.4.0.7:84
	wait_for_line '^add iptables/CNI-DN-nft tcp 0.0.0.0 8084 84 target_ip=10.4.0.7$'
	not grep -q '^del ' "$DIR/out"
}

@test "auto mode polls a legacy-only namespace" {
	portmap_rules iptables-legacy CNI-DN-only 8081 10.4.0.7
	# No nf_tables nat table exists, so auto mode reads and polls the
	# legacy tables alone.
	scan_start --interval 1
	grep -qx 'add iptables/CNI-DN-only tcp 0.0.0.0 8081 80 target_ip=10.4.0.7' "$DIR/out"
	grep -q 'polling legacy iptables every 1 s' "$DIR/err"
	in_ns iptables-legacy -t nat -A CNI-DN-only -p udp -m udp --dport 8082 -j DNAT --to-destination 10.4.0.7:82
	wait_for_line '^add iptables/CNI-DN-only udp 0.0.0.0 8082 82 target_ip=10.4.0.7$'
	[ "$(grep -c '^add ' "$DIR/out")" -eq 2 ]
}

@test "port in two chains has two owners" {
	portmap_rules iptables CNI-DN-dead 8081 10.4.0.7
	portmap_rules iptables CNI-DN-live 8081 10.4.0.8
	scan_start --backend nft
	grep -qx 'add iptables/CNI-DN-dead tcp 0.0.0.0 8081 80 target_ip=10.4.0.7' "$DIR/out"
	grep -qx 'add iptables/CNI-DN-live tcp 0.0.0.0 8081 80 target_ip=10.4.0.8' "$DIR/out"
	in_ns iptables -t nat -F CNI-DN-dead
	wait_for_line '^del iptables/CNI-DN-dead tcp 0.0.0.0 8081 80 target_ip=10.4.0.7$'
	not grep -q '^del iptables/CNI-DN-live' "$DIR/out"
}

@test "SIGUSR1 logs the state and every binding" {
	portmap_rules iptables CNI-DN-usr1 8081 10.4.0.7 127.0.0.1/32
	scan_start --backend nft
	kill -USR1 "$SCAN_PID"
	wait_for_log 'ipt-scan: info: state: 1 bindings emitted; nf_tables followed \(1 bindings\); legacy iptables not used'
	wait_for_log 'ipt-scan: info: state: tcp 127.0.0.1 port 8081 -> 10.4.0.7 port 80 for iptables/CNI-DN-usr1$'
	kill -0 "$SCAN_PID"
	# The dump writes no port event.
	[ "$(wc -l < "$DIR/out")" -eq 3 ]
}

@test "real portmap plugin on a veth pair" {
	CTR_NS=iptscan-ctr-$BATS_ROOT_PID-$BATS_TEST_NUMBER
	ip netns add "$CTR_NS"
	ip -n "$NS" link add "vh$BATS_TEST_NUMBER" type veth peer name eth0 netns "$CTR_NS"
	ip -n "$NS" addr add 10.88.0.1/24 dev "vh$BATS_TEST_NUMBER"
	ip -n "$NS" link set "vh$BATS_TEST_NUMBER" up
	ip -n "$CTR_NS" addr add 10.88.0.2/24 dev eth0
	ip -n "$CTR_NS" link set eth0 up
	cat > "$DIR/portmap.json" <<EOF
{"cniVersion":"0.4.0","name":"rdtest","type":"portmap","capabilities":{"portMappings":true},
 "runtimeConfig":{"portMappings":[
  {"hostPort":8081,"containerPort":80,"protocol":"tcp"},
  {"hostPort":8082,"containerPort":53,"protocol":"udp","hostIP":"127.0.0.1"}]},
 "prevResult":{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/$CTR_NS"}],
  "ips":[{"version":"4","address":"10.88.0.2/24","interface":0}]}}
EOF
	scan_start --backend nft
	cni() {
		in_ns env CNI_COMMAND="$1" CNI_CONTAINERID=ctr-$BATS_ROOT_PID CNI_NETNS="/var/run/netns/$CTR_NS" \
			CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/portmap < "$DIR/portmap.json"
	}
	cni ADD
	wait_for_line '^add iptables/CNI-DN-[0-9a-f]+ tcp 0.0.0.0 8081 80 target_ip=10.88.0.2$'
	wait_for_line '^add iptables/CNI-DN-[0-9a-f]+ udp 127.0.0.1 8082 53 target_ip=10.88.0.2$'
	[ "$(grep -c '^add ' "$DIR/out")" -eq 2 ]
	cni DEL
	wait_for_line '^del iptables/CNI-DN-[0-9a-f]+ tcp 0.0.0.0 8081 80 target_ip=10.88.0.2$'
	wait_for_line '^del iptables/CNI-DN-[0-9a-f]+ udp 127.0.0.1 8082 53 target_ip=10.88.0.2$'
}

@test "5000 rules at once" {
	scan_start --backend nft
	{
		echo '*nat'
		for c in $(seq 1 50); do echo ":CNI-DN-bulk$c - [0:0]"; done
		for c in $(seq 1 50); do
			for p in $(seq 1 100); do
				echo "-A CNI-DN-bulk$c -p tcp -m tcp --dport $((10000 + c * 100 + p)) -j DNAT --to-destination 10.5.$c.$p:80"
			done
		done
		echo COMMIT
	} > "$DIR/bulk.rules"
	in_ns iptables-restore --noflush < "$DIR/bulk.rules"
	WAIT_SECONDS=60 wait_for_line '^add iptables/CNI-DN-bulk' 5000
	grep -qx 'add iptables/CNI-DN-bulk50 tcp 0.0.0.0 15100 80 target_ip=10.5.50.100' "$DIR/out"
	[ "$(sort -u "$DIR/out" | grep -c '^add ')" -eq 5000 ]
	in_ns iptables -t nat -F
	WAIT_SECONDS=60 wait_for_line '^del iptables/CNI-DN-bulk' 5000
}

@test "lost events (ENOBUFS) trigger a full rescan" {
	scan_start --backend nft
	# One transaction of 30,000 rules while ipt-scan is stopped: its
	# events overflow the 8 MB receive buffer, so the kernel drops the
	# rest of them, NFT_MSG_NEWGEN included.  Only the rescan that the
	# overflow itself triggers can find the rules.
	awk 'BEGIN {
		print "*nat"
		for (c = 1; c <= 30; c++) print ":CNI-DN-lost" c " - [0:0]"
		for (c = 1; c <= 30; c++)
			for (p = 1; p <= 1000; p++)
				printf "-A CNI-DN-lost%d -p tcp -m tcp --dport %d -j DNAT --to-destination 10.6.%d.1:80\n",
					c, 20000 + c * 1000 + p, c
		print "COMMIT"
	}' > "$DIR/lost.rules"
	kill -STOP "$SCAN_PID"
	in_ns iptables-restore --noflush < "$DIR/lost.rules"
	dropped=$(in_ns awk -v pid="$SCAN_PID" '$2 == 12 && $3 == pid { print $9 }' /proc/net/netlink)
	kill -CONT "$SCAN_PID"
	echo "events dropped: $dropped"
	[ "$dropped" -gt 0 ]
	WAIT_SECONDS=60 wait_for_line '^add iptables/CNI-DN-lost' 30000
	grep -qx 'add iptables/CNI-DN-lost30 tcp 0.0.0.0 51000 80 target_ip=10.6.30.1' "$DIR/out"
	grep -q 'receiving nf_tables events failed; rescanning: No buffer space available' "$DIR/err"
}

@test "malformed rule message is logged, rescanned, then skipped" {
	portmap_rules iptables CNI-DN-good 8081 10.4.0.7
	in_ns iptables -t nat -N CNI-DN-bad
	scan_start --backend nft
	# The kernel accepts this rule, but it compares a 1-byte load with
	# 2 bytes, so the decoder rejects its message as malformed.
	in_ns python3 "$BATS_TEST_DIRNAME/helpers/ipt-scan-badrule.py" CNI-DN-bad 8099
	wait_for_log 'malformed rule message in table nat \(type 0xa06, [0-9]+ bytes\); rescanning$' 2
	wait_for_log 'again; skipping that rule$'
	# Later changes still get through, and the failed scans withdrew nothing.
	in_ns iptables -t nat -A CNI-DN-bad -p tcp -m tcp --dport 8098 -j DNAT --to-destination 10.4.0.9:98
	wait_for_line '^add iptables/CNI-DN-bad tcp 0.0.0.0 8098 98 target_ip=10.4.0.9$'
	not grep -q ' 8099 ' "$DIR/out"
	not grep -q '^del ' "$DIR/out"
	grep -qx 'add iptables/CNI-DN-good tcp 0.0.0.0 8081 80 target_ip=10.4.0.7' "$DIR/out"
}

@test "no wake-ups while nothing changes" {
	portmap_rules iptables CNI-DN-idle 8081 10.4.0.7
	# Auto mode: the nf_tables nat table exists and no legacy one does,
	# so ipt-scan must not poll.
	scan_start
	sleep 0.5
	before=$(ctxt_switches "$SCAN_PID")
	sleep 10
	after=$(ctxt_switches "$SCAN_PID")
	echo "context switches: $before then $after"
	[ "$before" -eq "$after" ]
	# Still listening: a change wakes it up.
	in_ns iptables -t nat -A CNI-DN-idle -p tcp -m tcp --dport 8082 -j DNAT --to-destination 10.4.0.7:82
	wait_for_line '^add iptables/CNI-DN-idle tcp 0.0.0.0 8082 82 target_ip=10.4.0.7$'
	[ "$(ctxt_switches "$SCAN_PID")" -gt "$after" ]
}

@test "from-file reads saved rules and stdin" {
	cat > "$DIR/saved" <<'EOF'
*nat
:CNI-DN-file - [0:0]
-A CNI-DN-file -d 127.0.0.1/32 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.4.0.7:80
-A CNI-DN-file -p tcp this is not a rule
-A CNI-DN-file -p udp -m udp --dport 7000:7004 -j DNAT --to-destination 10.4.0.7
COMMIT
EOF
	run --separate-stderr "$RDAGENT" ipt-scan --from-file "$DIR/saved" --max-range 2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sync iptables" ]
	echo "$output" | grep -qx 'add iptables/CNI-DN-file tcp 127.0.0.1 8081 80 target_ip=10.4.0.7'
	echo "$output" | grep -qx 'add iptables/CNI-DN-file udp 0.0.0.0 7001 - target_ip=10.4.0.7'
	not grep -q ' 7002 ' <<< "$output"
	echo "$stderr" | grep -q "line 4: unexpected word where an option was expected; skipping it"
	echo "$stderr" | grep -q "port range 7000-7004 has more than 2 ports"
	run sh -c "'$RDAGENT' ipt-scan --from-file - < '$DIR/saved' 2>/dev/null"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 8 ]
	# --chain-prefix replaces the default and may be repeated.
	printf '%s\n' '*nat' \
		'-A KUBE-HP-x -p tcp -m tcp --dport 8091 -j DNAT --to-destination 10.4.0.9:91' \
		'-A MY-FWD -p tcp -m tcp --dport 8092 -j DNAT --to-destination 10.4.0.9:92' \
		'-A CNI-DN-y -p tcp -m tcp --dport 8093 -j DNAT --to-destination 10.4.0.9:93' COMMIT > "$DIR/prefixes"
	run --separate-stderr "$RDAGENT" ipt-scan --from-file "$DIR/prefixes" --chain-prefix KUBE-HP- --chain-prefix MY-
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'sync iptables' \
		'add iptables/KUBE-HP-x tcp 0.0.0.0 8091 91 target_ip=10.4.0.9' \
		'add iptables/MY-FWD tcp 0.0.0.0 8092 92 target_ip=10.4.0.9' 'done iptables')" ]
}

@test "failing iptables-legacy-save is logged and retried" {
	mkdir "$DIR/bin"
	printf '#!/bin/sh\necho "iptables-legacy-save: broken" >&2\nexit 3\n' > "$DIR/bin/iptables-legacy-save"
	chmod +x "$DIR/bin/iptables-legacy-save"
	cp "$DIR/bin/iptables-legacy-save" "$DIR/bin/ip6tables-legacy-save"
	ip netns exec "$NS" env PATH="$DIR/bin:$PATH" "$RDAGENT" ipt-scan --backend legacy --interval 1 \
		> "$DIR/out" 2> "$DIR/err" &
	SCAN_PID=$!
	wait_for_log 'iptables-legacy-save -t nat exited with status 3' 2
	wait_for_log 'retrying in 1 s' 2
	# No snapshot from a failed scan.
	[ ! -s "$DIR/out" ]
	kill -0 "$SCAN_PID"
}

@test "missing iptables-legacy-save warns once" {
	mkdir "$DIR/bin"
	ip netns exec "$NS" env PATH="$DIR/bin" "$RDAGENT" ipt-scan --backend legacy --interval 1 \
		> "$DIR/out" 2> "$DIR/err" &
	SCAN_PID=$!
	wait_for_line '^done iptables$'
	sleep 2.5
	[ "$(grep -c 'not found in PATH' "$DIR/err")" -eq 1 ]
	[ "$(cat "$DIR/out")" = "$(printf 'sync iptables\ndone iptables')" ]
}

@test "without CAP_NET_ADMIN the error names it" {
	run ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$RDAGENT" ipt-scan --backend nft --once
	[ "$status" -eq 1 ]
	echo "$output" | grep -q 'CAP_NET_ADMIN'
}

@test "invalid options are usage errors" {
	run "$RDAGENT" ipt-scan --backend iptables
	[ "$status" -eq 2 ]
	echo "$output" | grep -q "invalid value 'iptables' for --backend"
	run "$RDAGENT" ipt-scan --interval 0
	[ "$status" -eq 2 ]
	run "$RDAGENT" ipt-scan --chain-prefix ''
	[ "$status" -eq 2 ]
	run "$RDAGENT" ipt-scan extra
	[ "$status" -eq 2 ]
	run "$RDAGENT" ipt-scan --help
	[ "$status" -eq 0 ]
	echo "$output" | grep -q -- '--chain-prefix PREFIX'
}
