#!/bin/sh
# Writes the applet table (name, entry point, help text) to stdout from the
# top comment of each applets/NAME.c given as an argument.  The top comment
# is the applet's --help text, so help and code live in one file.
set -eu
for file in $(printf '%s\n' "$@" | LC_ALL=C sort); do
	name=$(basename "$file" .c)
	func=$(printf '%s' "$name" | tr -- '-' '_')_main
	printf 'APPLET("%s", %s,\n' "$name" "$func"
	awk '
		NR == 1 && !/^\/\*/ { print "gen-applets: " FILENAME ": no top comment" > "/dev/stderr"; exit 1 }
		/^ \*\/$/ { exit }
		{
			line = $0
			if (NR == 1) sub(/^\/\* ?/, "", line)
			else sub(/^ \* ?/, "", line)
			gsub(/\\/, "\\\\", line)
			gsub(/"/, "\\\"", line)
			printf "\t\"%s\\n\"\n", line
		}
	' "$file"
	printf ')\n'
done
