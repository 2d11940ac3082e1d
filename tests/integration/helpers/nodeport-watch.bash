# Helpers for nodeport-watch.bats: a per-run PKI made with openssl, the
# test API server, kubeconfig writers and event-stream waits.

NPW_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NPW_ROOT=$(cd "$NPW_HELPERS/../../.." && pwd)
RDAGENT=${RDAGENT:-$NPW_ROOT/out/rdagent}

# kubectl and Python honour proxy variables; every peer here is on
# loopback, so none may be used.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1

# A random port from 20000 up to the kernel's ephemeral range that nothing
# listens on now: an ephemeral port may be some client's and fail bind().
npw_free_port() {
	local p low=32768
	read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$low" -gt 21000 ] 2>/dev/null || low=32768
	while :; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % (low - 20000)))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# openssl's EC key generation; $2 is the curve (P-256, P-384).
npw_ec_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$2" -out "$1" 2>/dev/null
}

# Signs a certificate: npw_sign NAME SUBJ ISSUER_NAME EXTENSIONS
# Files: $PKI/NAME.key (must exist), $PKI/NAME.crt.
npw_sign() {
	local name=$1 subj=$2 issuer=$3 ext=$4
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	printf '%b\n' "$ext" > "$PKI/$name.ext"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$issuer.crt" -CAkey "$PKI/$issuer.key" \
		-CAcreateserial -days 2 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
}

npw_self_signed_ca() {
	local name=$1 subj=$2
	npw_ec_key "$PKI/$name.key" P-256
	openssl req -x509 -new -key "$PKI/$name.key" -subj "$subj" -days 2 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$PKI/$name.crt" 2>/dev/null
}

# Makes, under $PKI: a server CA and server certificates (EC P-256) for
# 127.0.0.1 and localhost, one for localhost only; an RSA CA and RSA
# server certificate for 127.0.0.1; a client root CA, an
# intermediate client CA, and client certificates signed by the
# intermediate with EC P-256 (EC PRIVATE KEY), EC P-384 (PKCS#8 PRIVATE
# KEY) and RSA 2048 (RSA PRIVATE KEY) keys; an unrelated CA.
npw_make_pki() {
	local ca_ext="basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign"
	local server_ext="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth"
	local client_ext="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
	mkdir -p "$PKI"
	npw_self_signed_ca server-ca "/CN=k3s-server-ca@1764500000"
	npw_self_signed_ca client-ca "/CN=k3s-client-ca@1764500000"
	npw_self_signed_ca other-ca "/CN=unrelated-ca"

	npw_ec_key "$PKI/server.key" P-256
	npw_sign server "/O=k3s/CN=k3s" server-ca \
		"$server_ext\nsubjectAltName=DNS:kubernetes,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:::1,IP:10.43.0.1"
	npw_ec_key "$PKI/server-dns.key" P-256
	npw_sign server-dns "/CN=127.0.0.1" server-ca "$server_ext\nsubjectAltName=DNS:localhost"
	# An RSA CA and server certificate: ECDHE_RSA suites and RSA
	# signatures in the chain.
	openssl genrsa -out "$PKI/rsa-ca.key" 2048 2>/dev/null
	openssl req -x509 -new -key "$PKI/rsa-ca.key" -subj "/CN=rsa-server-ca" -days 2 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$PKI/rsa-ca.crt" 2>/dev/null
	openssl genrsa -out "$PKI/server-rsa.key" 2048 2>/dev/null
	npw_sign server-rsa "/CN=k3s" rsa-ca \
		"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1"

	npw_ec_key "$PKI/client-int.key" P-256
	npw_sign client-int "/CN=k3s-client-intermediate" client-ca "$ca_ext"

	npw_ec_key "$PKI/client-p256.pkcs8" P-256
	openssl ec -in "$PKI/client-p256.pkcs8" -out "$PKI/client-p256.key" 2>/dev/null
	npw_ec_key "$PKI/client-p384.key" P-384
	openssl genrsa -traditional -out "$PKI/client-rsa.key" 2048 2>/dev/null ||
		openssl genrsa -out "$PKI/client-rsa.key" 2048 2>/dev/null
	local k
	for k in p256 p384 rsa; do
		npw_sign "client-$k" "/O=system:masters/CN=system:admin" client-int "$client_ext"
		cat "$PKI/client-$k.crt" "$PKI/client-int.crt" > "$PKI/client-$k.chain"
	done
	# A client certificate from an unrelated CA, which the server rejects.
	npw_ec_key "$PKI/stranger.key" P-256
	npw_sign stranger "/CN=stranger" other-ca "$client_ext"
}

b64() { base64 -w0 < "$1"; }

# Writes a kubeconfig in k3s's layout: npw_kubeconfig FILE SERVER KEYFORM
# [extra cluster lines] where KEYFORM is p256, p384 or rsa.
npw_kubeconfig() {
	local file=$1 server=$2 form=${3:-p256} extra=${4:-}
	cat > "$file.tmp" <<EOC
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(b64 "$PKI/server-ca.crt")
    server: $server
$extra
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: $(b64 "$PKI/client-$form.chain")
    client-key-data: $(b64 "$PKI/client-$form.key")
EOC
	sed -i '/^$/d' "$file.tmp"
	mv "$file.tmp" "$file"
}

# Starts the test API server: npw_start_apiserver NAME PORT CTLPORT [args...]
# with $PKI/$NPW_SERVER_CERT.{crt,key} (default server) as its certificate.
# Fails with the server's log when its control port does not come up.
npw_start_apiserver() {
	local name=$1 port=$2 ctl=$3 pid
	shift 3
	python3 "$NPW_HELPERS/kube_apiserver.py" --port "$port" --control-port "$ctl" \
		--cert "$PKI/${NPW_SERVER_CERT:-server}.crt" --key "$PKI/${NPW_SERVER_CERT:-server}.key" \
		--client-ca "$PKI/client-ca.crt" \
		--services "$NPW_ROOT/tests/fixtures/nodeport-watch/services.json" "$@" \
		> "$NPW_DIR/$name.log" 2>&1 &
	pid=$!
	echo "$pid" > "$NPW_DIR/$name.pid"
	for _ in $(seq 200); do
		(exec 3<>/dev/tcp/127.0.0.1/"$ctl") 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "test API server $name did not start:" >&2
	cat "$NPW_DIR/$name.log" >&2
	return 1
}

npw_stop_pidfile() {
	local f=$1 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$f"
}

npw_wait_port() {
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# Sends a request to the test server's control port and prints the
# response body: npw_ctl CTLPORT METHOD PATH [BODY-FILE]
npw_ctl() {
	python3 - "$@" <<'PY'
import sys, urllib.request
port, method, path = sys.argv[1:4]
body = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 else (b"" if method == "POST" else None)
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method=method)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(req, timeout=60) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode())
PY
}

# Waits up to $3 seconds (default 10) until file $1 has a line matching $2.
npw_wait_line() {
	local file=$1 pattern=$2 timeout=${3:-10}
	for _ in $(seq $((timeout * 20))); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$pattern' in $file:" >&2
	cat "$file" >&2
	return 1
}

# Counts lines of $1 matching $2.
npw_count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
