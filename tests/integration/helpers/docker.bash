# Start and stop a private dockerd for integration tests.
#
# The daemon runs inside a network namespace of its own, with private
# --data-root, --exec-root, --pidfile and socket paths and its own cgroup
# parent, so its bridge, iptables rules and containers never meet another
# test's daemon or a system dockerd.  Source this file, then:
#
#   docker_start [ID]   start dockerd; sets DOCKER_DIR, DOCKER_NETNS,
#                       DOCKER_SOCK, DOCKER_HOST and exports DOCKER_HOST
#   docker_image        import the busybox-static test image as $DOCKER_IMAGE
#   docker_stop         stop dockerd, remove its containers, namespace, files
#   docker_daemon_stop  stop only the daemon process (keeps data for a restart)
#   docker_daemon_start start the daemon again on the same paths
#   d ARGS...           run the docker CLI against the private daemon
#
# DOCKER_DAEMON_ARGS adds dockerd options (e.g. --live-restore) to the
# next docker_daemon_start.
# ID defaults to ${BATS_ROOT_PID:-$$}, so parallel runs do not collide.
# Needs root, dockerd and containerd (docker.io), busybox-static, iproute2.

DOCKER_IMAGE=${DOCKER_IMAGE:-rdtest-busybox:latest}

d() {
	docker --host "$DOCKER_HOST" "$@"
}

_docker_log() {
	printf 'docker.bash: %s\n' "$*" >&2
}

# Waits up to 30 s until the daemon responds to the docker CLI.
_docker_wait_ready() {
	local i
	for i in $(seq 1 300); do
		if [ -n "${DOCKER_PID:-}" ] && ! kill -0 "$DOCKER_PID" 2>/dev/null; then
			_docker_log "dockerd exited during start-up; last log lines:"
			tail -20 "$DOCKER_DIR/dockerd.log" >&2
			return 1
		fi
		if d version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	_docker_log "dockerd did not answer on $DOCKER_SOCK within 30 s; last log lines:"
	tail -20 "$DOCKER_DIR/dockerd.log" >&2
	return 1
}

# Starts the daemon process on the paths set by docker_start.
docker_daemon_start() {
	rm -f "$DOCKER_DIR/dockerd.pid" "$DOCKER_SOCK"
	# nsenter enters only the network namespace.  "ip netns exec" would
	# also remount /sys, which hides the cgroup mounts under
	# /sys/fs/cgroup, and dockerd then fails with "Devices cgroup isn't
	# mounted".
	nsenter --net="/run/netns/$DOCKER_NETNS" dockerd \
		--data-root "$DOCKER_DIR/data" \
		--exec-root "$DOCKER_DIR/exec" \
		--pidfile "$DOCKER_DIR/dockerd.pid" \
		--host "unix://$DOCKER_SOCK" \
		--cgroup-parent "/$DOCKER_NETNS" \
		--storage-driver "${DOCKER_STORAGE_DRIVER:-vfs}" \
		--ipv6 --fixed-cidr-v6 fd00:d0c:1::/64 \
		--iptables=true \
		--log-level warn \
		${DOCKER_DAEMON_ARGS:-} \
		>>"$DOCKER_DIR/dockerd.log" 2>&1 &
	DOCKER_PID=$!
	echo "$DOCKER_PID" > "$DOCKER_DIR/dockerd.launcher-pid"
	_docker_wait_ready
}

# Stops the daemon process (SIGTERM, then SIGKILL after 20 s) and waits
# until it is gone.  Containers are stopped by dockerd itself on SIGTERM.
docker_daemon_stop() {
	local pid i
	pid=$(cat "$DOCKER_DIR/dockerd.pid" 2>/dev/null || echo "${DOCKER_PID:-}")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	DOCKER_PID=
}

docker_start() {
	local id=${1:-${BATS_ROOT_PID:-$$}}
	DOCKER_NETNS=rdtest-docker-$id
	DOCKER_DIR=/tmp/rdtest-docker-$id
	# The socket path stays short because sun_path has room for 107 bytes.
	DOCKER_SOCK=$DOCKER_DIR/docker.sock
	DOCKER_HOST=unix://$DOCKER_SOCK
	export DOCKER_NETNS DOCKER_DIR DOCKER_SOCK DOCKER_HOST
	mkdir -p "$DOCKER_DIR"
	# A namespace of this name without processes is left over from an
	# earlier run with the same ID that was killed before its teardown.
	# One with processes belongs to a daemon that is still running.
	if ip netns list | grep -qx "$DOCKER_NETNS\( (id: [0-9]*)\)\{0,1\}"; then
		if [ -n "$(ip netns pids "$DOCKER_NETNS")" ]; then
			_docker_log "namespace $DOCKER_NETNS is in use; pick another ID"
			return 1
		fi
		ip netns delete "$DOCKER_NETNS"
	fi
	ip netns add "$DOCKER_NETNS" || return 1
	ip -n "$DOCKER_NETNS" link set lo up
	docker_daemon_start
}

# Builds the test image from the static busybox: no registry needed.
docker_image() {
	local root=$DOCKER_DIR/rootfs applet
	d image inspect "$DOCKER_IMAGE" >/dev/null 2>&1 && return 0
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/tmp" "$root/etc"
	cp /bin/busybox "$root/bin/busybox"
	for applet in sh sleep nc true false cat echo ls ps kill httpd; do
		ln -s busybox "$root/bin/$applet"
	done
	tar -C "$root" -c . | d import -c 'CMD ["/bin/sh"]' - "$DOCKER_IMAGE" >/dev/null
}

docker_stop() {
	[ -n "${DOCKER_DIR:-}" ] || return 0
	if [ -S "$DOCKER_SOCK" ]; then
		d ps -aq 2>/dev/null | xargs -r docker --host "$DOCKER_HOST" rm -f >/dev/null 2>&1 || true
	fi
	docker_daemon_stop
	# dockerd's own containerd and shims exit with it; anything left in
	# the namespace was started by this daemon.
	if [ -n "${DOCKER_NETNS:-}" ]; then
		local pids
		pids=$(ip netns pids "$DOCKER_NETNS" 2>/dev/null || true)
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
		ip netns delete "$DOCKER_NETNS" 2>/dev/null || true
	fi
	# Mounts under the data and exec roots (shm, netns files) would keep
	# rm from removing them.
	grep -o " $DOCKER_DIR/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$DOCKER_DIR"
}
