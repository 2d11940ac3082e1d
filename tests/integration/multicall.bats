#!/usr/bin/env bats
# The multicall binary: dispatch on argv[0] and on the first argument,
# --list, --install, --help and exit codes.

bats_require_minimum_version 1.5.0

load helpers/common

RDAGENT=$(readlink -f "$BATS_TEST_DIRNAME/../../out/rdagent")

setup() {
	DIR=$BATS_TEST_TMPDIR/bin
	mkdir -p "$DIR"
}

@test "list prints every applet" {
	run "$RDAGENT" --list
	[ "$status" -eq 0 ]
	[[ "$output" == *agent* ]]
	[[ "$output" == *listen-hold* ]]
	# One name per line, each a file under applets/.
	for name in $output; do
		[ -f "$BATS_TEST_DIRNAME/../../applets/$name.c" ]
	done
	[ "$(echo "$output" | wc -l)" -eq "$(ls "$BATS_TEST_DIRNAME"/../../applets/*.c | wc -l)" ]
}

@test "each applet dispatches through a symlink" {
	for name in $("$RDAGENT" --list); do
		ln -s "$RDAGENT" "$DIR/$name"
		run "$DIR/$name" --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: $name"* ]]
		# The same text through "rdagent APPLET".
		[ "$("$RDAGENT" "$name" --help)" = "$output" ]
	done
}

@test "applet runs through symlink" {
	ln -s "$RDAGENT" "$DIR/listen-hold"
	run "$DIR/listen-hold" < /dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"listen-hold: info: started"* ]]
	[[ "$output" == *"listen-hold: info: end of input"* ]]
}

@test "install creates hard links" {
	run "$RDAGENT" --install "$DIR"
	[ "$status" -eq 0 ]
	for name in $("$RDAGENT" --list); do
		[ -f "$DIR/$name" ]
		[ ! -L "$DIR/$name" ]
		[ "$(stat -c %i "$DIR/$name")" = "$(stat -c %i "$RDAGENT")" ]
	done
	# Running it again replaces its own links.
	run "$RDAGENT" --install "$DIR"
	[ "$status" -eq 0 ]
	run "$DIR/listen-hold" --help
	[ "$status" -eq 0 ]
}

@test "install -s creates symlinks" {
	run "$RDAGENT" --install -s "$DIR"
	[ "$status" -eq 0 ]
	for name in $("$RDAGENT" --list); do
		[ -L "$DIR/$name" ]
		[ "$(readlink -f "$DIR/$name")" = "$RDAGENT" ]
	done
	run "$RDAGENT" --install -s "$DIR"
	[ "$status" -eq 0 ]
	# A symlink may replace a hard link of itself, and the other way round.
	run "$RDAGENT" --install "$DIR"
	[ "$status" -eq 0 ]
	[ ! -L "$DIR/agent" ]
}

@test "install keeps foreign files" {
	echo "not rdagent" > "$DIR/listen-hold"
	ln -s /bin/true "$DIR/agent"
	run "$RDAGENT" --install -s "$DIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not replacing '$DIR/listen-hold'"* ]]
	[[ "$output" == *"not replacing '$DIR/agent'"* ]]
	[ "$(cat "$DIR/listen-hold")" = "not rdagent" ]
	[ "$(readlink "$DIR/agent")" = /bin/true ]
	run "$RDAGENT" --install "$DIR"
	[ "$status" -eq 1 ]
	[ "$(cat "$DIR/listen-hold")" = "not rdagent" ]
}

@test "install usage errors" {
	run "$RDAGENT" --install
	[ "$status" -eq 2 ]
	[[ "$output" == *"--install takes [-s] DIR"* ]]
	run "$RDAGENT" --install -s
	[ "$status" -eq 2 ]
	run -2 "$RDAGENT" --install -x "$DIR"
	[[ "$output" == *"unexpected argument '-x'"* ]]
	run -2 "$RDAGENT" --install -s "$DIR" extra
	[[ "$output" == *"unexpected argument 'extra'"* ]]
	run -2 "$RDAGENT" --install "$DIR" extra
	[[ "$output" == *"unexpected argument 'extra'"* ]]
	run "$RDAGENT" --install "$DIR/missing"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a directory"* ]]
}

@test "help exits 0" {
	run "$RDAGENT" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: rdagent"* ]]
	run "$RDAGENT" listen-hold --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--udp"* ]]
	[[ "$output" == *"--recheck SECONDS"* ]]
	run "$RDAGENT" listen-hold -h
	[ "$status" -eq 0 ]
}

@test "usage errors exit 2" {
	run "$RDAGENT" listen-hold --no-such-option
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"listen-hold: error: unknown option '--no-such-option'"* ]]
	[[ "$output" == *"see 'listen-hold --help'"* ]]
	run "$RDAGENT" listen-hold --recheck
	[ "$status" -eq 2 ]
	[[ "$output" == *"option '--recheck' requires a value"* ]]
	run "$RDAGENT" listen-hold --recheck abc
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value 'abc' for --recheck"* ]]
	run "$RDAGENT" listen-hold --udp=yes
	[ "$status" -eq 2 ]
	[[ "$output" == *"option '--udp' takes no value (in '--udp=yes')"* ]]
	run "$RDAGENT" listen-hold -Z
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown option '-Z'"* ]]
	run "$RDAGENT" --list extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"unexpected argument 'extra' after --list"* ]]
	run "$RDAGENT" --version extra
	[ "$status" -eq 2 ]
}

@test "unknown applet exits 127" {
	run -127 "$RDAGENT" no-such-applet
	[[ "$output" == *"applet not found: 'no-such-applet'"* ]]
	ln -s "$RDAGENT" "$DIR/no-such-applet"
	run -127 "$DIR/no-such-applet" listen-hold2
	# An unknown link name is an error even with no arguments: it must
	# not start the agent.
	run -127 "$DIR/no-such-applet"
	[[ "$output" == *"applet not found: 'no-such-applet'"* ]]
	# Renamed copies of the binary still work as the multicall entry.
	ln -s "$RDAGENT" "$DIR/rdagent-x86_64"
	run "$DIR/rdagent-x86_64" --list
	[ "$status" -eq 0 ]
}

@test "closed stdin reads as empty input" {
	# Inside bash -c, so that the redirection closes the applet's stdin
	# rather than the descriptor bats' run captures output with.
	run bash -c '"$0" listen-hold <&-' "$RDAGENT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"listen-hold: info: end of input"* ]]
}

@test "SIGUSR1 never kills an applet" {
	for name in $("$RDAGENT" --list); do
		[ "$name" = agent ] && continue
		"$RDAGENT" "$name" --help >/dev/null
	done
	# docker-watch waits for a socket that does not exist: a long-running
	# applet that must survive SIGUSR1 and log its state.
	"$RDAGENT" docker-watch --host "unix://$BATS_TEST_TMPDIR/none.sock" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	local pid=$! i
	sleep 0.3
	kill -USR1 "$pid"
	for i in $(seq 1 50); do
		grep -q "docker-watch: info: state: not connected on $BATS_TEST_TMPDIR/none.sock, API unknown, 0 containers" \
			"$BATS_TEST_TMPDIR/err" && break
		sleep 0.1
	done
	grep -q "docker-watch: info: state: next connect in [0-9]* ms" "$BATS_TEST_TMPDIR/err"
	kill -0 "$pid"
	kill -TERM "$pid"
	wait "$pid"
}

# The agent runs until it is stopped; SIGTERM ends it with status 0.
@test "no applet runs agent" {
	run timeout --preserve-status -s TERM 2 "$RDAGENT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"agent: info: rdagent "*" agent starting"* ]]
}

@test "version" {
	run "$RDAGENT" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "rdagent "[0-9]* ]]
}

# Options an applet accepts: the long names in its struct option table and
# the letters of its applet_getopt call, plus the common ones.
accepted_options() {
	local src=$BATS_TEST_DIRNAME/../../applets/$1.c
	sed -n 's/.*{ "\([a-z0-9-]*\)", *\(no\|required\|optional\)_argument.*/--\1/p' "$src"
	sed -n 's/.*applet_getopt([^,]*, [^,]*, "\([^"]*\)".*/\1/p' "$src" |
		tr -d ':' | grep -o . | sed 's/^/-/'
	printf '%s\n' -v --debug --verbose -q --quiet
}

@test "each applet's help lists every option it accepts" {
	for name in $("$RDAGENT" --list); do
		help=$("$RDAGENT" "$name" --help)
		options=$(accepted_options "$name")
		[ -n "$options" ]
		for opt in $options; do
			if ! grep -qE -- "(^|[[ ,|])$opt([][ ,=|]|$)" <<<"$help"; then
				echo "$name --help does not mention $opt"
				return 1
			fi
		done
	done
}

@test "every applet accepts -v, --debug, --verbose, -q and --quiet" {
	for name in $("$RDAGENT" --list); do
		for opt in -v --debug --verbose -q --quiet; do
			# The common option is taken; the next one is the bad one.
			run -2 "$RDAGENT" "$name" "$opt" --no-such-option
			[[ "${lines[0]}" == *"$name: error: unknown option '--no-such-option'" ]]
		done
	done
}

# Events for the log tests: an SCTP binding is never held, so no port is
# opened; removing it logs at debug level; "bogus" is rejected (warn).
log_events() {
	printf 'add t/a sctp 127.0.0.1 9 9\ndel t/a sctp 127.0.0.1 9 9\nbogus\n'
}

@test "log lines have a UTC ISO-8601 timestamp when stderr is not a terminal" {
	local before after stamp
	before=$(date -u +%s)
	log_events | TZ=Asia/Kolkata "$RDAGENT" listen-hold 2>"$BATS_TEST_TMPDIR/log"
	after=$(date -u +%s)
	cat "$BATS_TEST_TMPDIR/log"
	run grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z listen-hold: (info|warn): ' "$BATS_TEST_TMPDIR/log"
	[ "$output" = 0 ]
	# UTC, not the local time of TZ (5:30 ahead).
	stamp=$(head -n 1 "$BATS_TEST_TMPDIR/log" | cut -d' ' -f1)
	stamp=$(date -u -d "${stamp%.*}Z" +%s)
	[ "$stamp" -ge "$before" ]
	[ "$stamp" -le "$after" ]
}

@test "log lines on a terminal have no timestamp" {
	run script -qec "$RDAGENT listen-hold </dev/null" /dev/null
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "listen-hold: info: started"* ]]
}

@test "RDAGENT_LOG sets the level, -v and -q override it" {
	local log=$BATS_TEST_TMPDIR/log
	for level in debug info warn error; do
		log_events | RDAGENT_LOG=$level "$RDAGENT" listen-hold 2>"$log.$level"
	done
	grep -q 'debug: sctp 127.0.0.1:9: owner t/a removed' "$log.debug"
	grep -q 'info: started' "$log.debug"
	not grep -q 'debug:' "$log.info"
	grep -q 'info: started' "$log.info"
	grep -q 'warn: input line 3: rejected' "$log.info"
	not grep -q 'info:' "$log.warn"
	grep -q 'warn: input line 3: rejected' "$log.warn"
	[ ! -s "$log.error" ]

	log_events | RDAGENT_LOG=error "$RDAGENT" listen-hold -v 2>"$log.v"
	grep -q 'debug: sctp 127.0.0.1:9: owner t/a removed' "$log.v"
	log_events | RDAGENT_LOG=debug "$RDAGENT" listen-hold --debug 2>"$log.debug2"
	grep -q 'debug:' "$log.debug2"
	log_events | RDAGENT_LOG=debug "$RDAGENT" listen-hold -q 2>"$log.q"
	[ "$(cut -d' ' -f2- "$log.q")" = "listen-hold: warn: input line 3: rejected: unknown verb (expected add, del, sync or done): 'bogus'" ]

	# A bad value is reported once, and the default level stays.
	log_events | RDAGENT_LOG=loud "$RDAGENT" listen-hold 2>"$log.bad"
	[ "$(grep -c "invalid RDAGENT_LOG value 'loud'" "$log.bad")" -eq 1 ]
	grep -q 'info: started' "$log.bad"
	not grep -q 'debug:' "$log.bad"
}
