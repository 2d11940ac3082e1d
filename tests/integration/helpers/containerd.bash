# Starts and stops a private containerd for bats tests, and builds the
# busybox test image.  Everything lives under one directory, so it never
# touches the machine's own containerd:
#
#   containerd_start DIR     config, root, state and socket under DIR;
#                            sets CONTAINERD_ADDRESS and CONTAINERD_PID
#   containerd_stop          SIGTERM, wait, then SIGKILL; kills the shims
#   containerd_image_import NS   imports the busybox image into namespace NS
#   ctrx ARGS...             ctr against the private daemon
#
# Tests should use namespaces and container ids that include $$ or
# $BATS_ROOT_PID: runc keeps its state under /run/containerd/runc/NS, which
# is shared with any other containerd on the machine.
#
# The image is an OCI image layout (oci-layout, index.json, blobs/sha256)
# made with tar and sha256sum from the static busybox of busybox-static,
# because no registry is reachable and docker save needs a dockerd.

CONTAINERD_IMAGE=docker.io/rdagent/busybox:test

ctrx() {
	ctr --address "$CONTAINERD_ADDRESS" "$@"
}

# Prints the OCI architecture name of this machine.
containerd_oci_arch() {
	case "$(uname -m)" in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l) echo arm ;;
	*) uname -m ;;
	esac
}

# Writes the busybox OCI archive to $1.
containerd_build_image() {
	local out=$1 work sum size arch
	work=$(mktemp -d)
	mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/oci/blobs/sha256"
	cp /bin/busybox "$work/rootfs/bin/busybox"
	for tool in sh sleep nc true cat echo; do
		ln -s busybox "$work/rootfs/bin/$tool"
	done
	tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 \
		-C "$work/rootfs" -cf "$work/layer.tar" bin tmp
	local layer_sum layer_size config_sum config_size manifest_sum manifest_size
	layer_sum=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
	layer_size=$(stat -c %s "$work/layer.tar")
	mv "$work/layer.tar" "$work/oci/blobs/sha256/$layer_sum"
	arch=$(containerd_oci_arch)
	printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$arch" "$layer_sum" > "$work/config.json"
	config_sum=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	config_size=$(stat -c %s "$work/config.json")
	mv "$work/config.json" "$work/oci/blobs/sha256/$config_sum"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$config_sum" "$config_size" "$layer_sum" "$layer_size" > "$work/manifest.json"
	manifest_sum=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
	manifest_size=$(stat -c %s "$work/manifest.json")
	mv "$work/manifest.json" "$work/oci/blobs/sha256/$manifest_sum"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"test"}}]}' \
		"$manifest_sum" "$manifest_size" "$arch" "$CONTAINERD_IMAGE" > "$work/oci/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
	tar --numeric-owner --owner=0 --group=0 -C "$work/oci" -cf "$out" oci-layout index.json blobs
	rm -rf "$work"
}

# Picks a snapshotter that works on this machine: overlayfs, else native
# (overlay mounts fail inside some containers and on some filesystems).
containerd_pick_snapshotter() {
	local dir=$1 probe
	probe=$dir/overlay-probe
	mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
	if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
		"$probe/merged" 2>/dev/null; then
		umount "$probe/merged"
		rm -rf "$probe"
		echo overlayfs
	else
		rm -rf "$probe"
		echo native
	fi
}

containerd_start() {
	local dir=$1 i
	mkdir -p "$dir"
	CONTAINERD_DIR=$dir
	CONTAINERD_ADDRESS=$dir/containerd.sock
	CONTAINERD_SNAPSHOTTER=${CONTAINERD_SNAPSHOTTER:-$(containerd_pick_snapshotter "$dir")}
	cat > "$dir/config.toml" <<EOT
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$CONTAINERD_ADDRESS"

[ttrpc]
  address = "$CONTAINERD_ADDRESS.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""
EOT
	# 3>&- so bats does not wait for the daemon when a test ends.
	containerd --config "$dir/config.toml" >>"$dir/containerd.log" 2>&1 3>&- &
	CONTAINERD_PID=$!
	echo "$CONTAINERD_PID" > "$dir/containerd.pid"
	for i in $(seq 1 100); do
		if [ -S "$CONTAINERD_ADDRESS" ] && ctrx version >/dev/null 2>&1; then
			export CONTAINERD_DIR CONTAINERD_ADDRESS CONTAINERD_PID CONTAINERD_SNAPSHOTTER
			return 0
		fi
		if ! kill -0 "$CONTAINERD_PID" 2>/dev/null; then
			echo "containerd exited; log:" >&2
			cat "$dir/containerd.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "containerd did not answer on $CONTAINERD_ADDRESS within 10 s; log:" >&2
	cat "$dir/containerd.log" >&2
	return 1
}

# Stops the daemon only (shims and containers keep running), as a crash
# or an upgrade restart would.
containerd_kill_daemon() {
	# The pid file is current even when a test restarted the daemon in a
	# subshell that set its own CONTAINERD_PID.
	local pid i
	pid=$(cat "$CONTAINERD_DIR/containerd.pid" 2>/dev/null || echo "${CONTAINERD_PID:-}")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# Restarts the daemon with the same directories after containerd_kill_daemon.
containerd_restart() {
	containerd_start "$CONTAINERD_DIR"
}

# Kills every task in namespace $1, removes its containers.
containerd_clean_namespace() {
	local ns=$1 c
	for c in $(ctrx -n "$ns" tasks ls -q 2>/dev/null); do
		ctrx -n "$ns" tasks kill -s KILL "$c" >/dev/null 2>&1
	done
	for c in $(ctrx -n "$ns" containers ls -q 2>/dev/null); do
		local i
		for i in $(seq 1 50); do
			ctrx -n "$ns" tasks delete -f "$c" >/dev/null 2>&1 || true
			ctrx -n "$ns" containers delete "$c" >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
}

# Kills and deletes, with runc directly, the containers left in namespace
# $1 when containerd is gone; runc keeps them under /run/containerd/runc/NS.
containerd_runc_cleanup() {
	local root=/run/containerd/runc/$1 c
	[ -d "$root" ] || return 0
	for c in $(runc --root "$root" list -q 2>/dev/null); do
		runc --root "$root" kill -a "$c" KILL 2>/dev/null
		runc --root "$root" delete -f "$c" 2>/dev/null
	done
	rmdir "$root" 2>/dev/null || true
}

# Stops everything containerd_start started: the tasks of the namespaces
# given as arguments, the daemon, any shim still running from DIR, and
# (through runc) containers that a dead daemon left behind.
containerd_stop() {
	local ns pid
	[ -n "${CONTAINERD_DIR:-}" ] || return 0
	if [ -S "$CONTAINERD_ADDRESS" ]; then
		for ns in "$@"; do
			containerd_clean_namespace "$ns"
		done
	fi
	containerd_kill_daemon
	# Shims of this daemon name its ttrpc address on their command line.
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_ADDRESS( |$)" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	for ns in "$@"; do
		containerd_runc_cleanup "$ns"
	done
	grep " $CONTAINERD_DIR/" /proc/mounts | cut -d' ' -f2 | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$CONTAINERD_DIR"
}

# Imports the busybox test image into namespace $1 (built once per DIR).
containerd_image_import() {
	local ns=$1 archive=$CONTAINERD_DIR/busybox-oci.tar
	[ -f "$archive" ] || containerd_build_image "$archive" || return 1
	ctrx -n "$ns" images import --snapshotter "$CONTAINERD_SNAPSHOTTER" "$archive" >/dev/null
}

# Runs a detached busybox container: containerd_run NS ID [ctr run options...]
containerd_run() {
	local ns=$1 id=$2
	shift 2
	ctrx -n "$ns" run -d --net-host --snapshotter "$CONTAINERD_SNAPSHOTTER" "$@" \
		"$CONTAINERD_IMAGE" "$id" /bin/sleep 100000 >/dev/null
}
