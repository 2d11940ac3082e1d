#!/usr/bin/env bats
# The multicall binary: dispatch on argv[0] and on the first argument,
# --list, --install, --help and exit codes.

bats_require_minimum_version 1.5.0

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
		[ -f "$DIR/$name" ] && [ ! -L "$DIR/$name" ]
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
}

@test "unknown applet exits 127" {
	run -127 "$RDAGENT" no-such-applet
	[[ "$output" == *"applet not found: 'no-such-applet'"* ]]
	ln -s "$RDAGENT" "$DIR/no-such-applet"
	run -127 "$DIR/no-such-applet" listen-hold2
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
