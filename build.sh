#!/bin/sh
# Sets up a Debian 12 machine for rdagent, builds it, and optionally runs
# the tests or starts the agent.
#
#   ./build.sh           install missing packages, build BearSSL, make
#   ./build.sh --test    the same, plus the test packages, then make check
#   ./build.sh --run     build, then start the agent in the foreground
#   ./build.sh --help
#
# Run as root to let it install packages.  As another user it only lists
# what is missing, with the exact apt-get line to run, and exits 1.
set -eu

cd "$(dirname "$0")"
ROOT=$(pwd)
TP=$ROOT/third_party
TP_BUILD=$TP/build

mode=build
case "${1:-}" in
"") ;;
--test) mode=test ;;
--run) mode=run ;;
--help|-h) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
*) echo "build.sh: unknown option '$1'; see './build.sh --help'" >&2; exit 2 ;;
esac

say() { printf 'build.sh: %s\n' "$*" >&2; }

# Packages to build the static binary.
BUILD_PACKAGES="make gcc musl-tools libjsmn-dev dpkg-dev xz-utils file"
# Packages the tests use: unit and fuzz toolchain, real daemons and kernel
# tools the integration tests drive, and the peers' helpers.
TEST_PACKAGES="libcmocka-dev bats libbearssl-dev clang libclang-rt-14-dev
docker.io containerd busybox-static iptables nftables
containernetworking-plugins kubernetes-client openssl python3 iproute2
procps util-linux psmisc"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# kubectl may come from another package (for example Google's kubectl);
# any kubectl on PATH satisfies the tests.
provided_otherwise() {
	case "$1" in
	kubernetes-client) command -v kubectl >/dev/null 2>&1 ;;
	*) return 1 ;;
	esac
}

install_packages() {
	missing=
	for p in $*; do
		installed "$p" || provided_otherwise "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		say "missing packages:$missing"
		say "run as root: apt-get install -y$missing"
		exit 1
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends $missing >&2; then
		say "apt-get install failed; updating the package lists and trying again"
		apt-get update >&2
		apt-get install -y --no-install-recommends $missing >&2
	fi
}

# Writes deb-src entries for the machine's Debian sources to stdout, one-line
# format, derived from /etc/apt/sources.list{,.d/*.list} and deb822 .sources.
derive_deb_src() {
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*deb[[:space:]]\{1,\}/deb-src /p' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && uris != "" && suites != "" && enabled != "no") {
					n = split(uris, u, " "); m = split(suites, s, " ")
					for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
						printf "deb-src %s%s %s %s\n", (signed != "" ? "[signed-by=" signed "] " : ""), u[i], s[j], comps
				}
				types = uris = suites = comps = signed = enabled = ""
			}
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			{
				key = $1; sub(/:$/, "", key); $1 = ""; sub(/^ /, "")
				if (key == "Types") types = $0
				else if (key == "URIs") uris = $0
				else if (key == "Suites") suites = $0
				else if (key == "Components") comps = $0
				else if (key == "Signed-By") signed = $0
				else if (key == "Enabled") enabled = $0
			}
			END { flush() }
		' "$f"
	done | if [ -n "$codename" ]; then grep " $codename[- ]" || true; else cat; fi
}

sha256_ok() {
	[ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

build_bearssl() {
	. "$TP/bearssl.recipe"
	stamp=$TP_BUILD/bearssl.stamp
	want="$BEARSSL_VERSION $BEARSSL_CFLAGS"
	if [ -f "$TP_BUILD/lib/libbearssl.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	src=$TP/src
	apt=$TP/apt
	mkdir -p "$src" "$apt/lists/partial" "$apt/cache/archives/partial"

	# Download only what the recipe's checksums do not already match.
	need=0
	echo "$BEARSSL_FILES" | while read -r name sum; do
		[ -n "$name" ] || continue
		sha256_ok "$src/$name" "$sum" || exit 1
	done || need=1
	if [ "$need" = 1 ]; then
		derive_deb_src > "$apt/sources.list"
		if [ ! -s "$apt/sources.list" ]; then
			say "no Debian apt source found to derive a deb-src entry from"
			exit 1
		fi
		say "fetching source package $BEARSSL_PACKAGE=$BEARSSL_VERSION (private apt configuration in $apt)"
		set -- -o Dir::Etc::sourcelist="$apt/sources.list" \
			-o Dir::Etc::sourceparts=/nonexistent \
			-o Dir::State::Lists="$apt/lists" \
			-o Dir::Cache="$apt/cache" \
			-o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)"
		apt-get "$@" -q update >&2
		(cd "$src" && apt-get "$@" -q source --download-only "$BEARSSL_PACKAGE=$BEARSSL_VERSION" >&2)
	fi
	echo "$BEARSSL_FILES" | while read -r name sum; do
		[ -n "$name" ] || continue
		if ! sha256_ok "$src/$name" "$sum"; then
			say "checksum mismatch for $src/$name (expected $sum); delete it and run again"
			exit 1
		fi
	done

	say "building BearSSL $BEARSSL_VERSION with musl-gcc"
	rm -rf "$src/bearssl"
	(cd "$src" && dpkg-source --no-check -x "${BEARSSL_PACKAGE}_${BEARSSL_VERSION}.dsc" bearssl >/dev/null)
	make -C "$src/bearssl" -j"$(nproc)" lib CC=musl-gcc LD=musl-gcc \
		CFLAGS="$BEARSSL_CFLAGS" BUILD=build-musl >/dev/null
	mkdir -p "$TP_BUILD/lib" "$TP_BUILD/include"
	cp "$src/bearssl/build-musl/libbearssl.a" "$TP_BUILD/lib/"
	cp "$src/bearssl/inc/"*.h "$TP_BUILD/include/"
	echo "$want" > "$stamp"
}

install_jsmn() {
	mkdir -p "$TP_BUILD/include"
	cmp -s /usr/include/jsmn.h "$TP_BUILD/include/jsmn.h" ||
		cp /usr/include/jsmn.h "$TP_BUILD/include/jsmn.h"
}

packages=$BUILD_PACKAGES
[ "$mode" = test ] && packages="$packages $TEST_PACKAGES"
install_packages $packages
build_bearssl
install_jsmn
make -s -j"$(nproc)" out/rdagent

case "$mode" in
test)
	exec make -s check ;;
run)
	if [ "$(id -u)" != 0 ]; then
		say "the agent needs root (it reads the NAT table and opens low ports); run: sudo ./build.sh --run"
		exit 1
	fi
	say "starting the agent: out/rdagent (stop it with Ctrl-C)"
	exec "$ROOT/out/rdagent" ;;
esac
say "built out/rdagent"
