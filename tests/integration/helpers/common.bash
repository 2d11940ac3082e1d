# Helpers for every bats file.
#
#   not CMD...   succeeds when CMD fails
#
# Write "not CMD" in a test where "! CMD" would go.  Bash's errexit ignores
# the status of a pipeline that starts with "!", so a bare "! CMD" fails
# the test only when it is the test's last command.  To negate a pipeline,
# put "not" before its last command ("a | not grep -q x") or feed that
# command with "< <(a)".

not() {
	! "$@"
}
