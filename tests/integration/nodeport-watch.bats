#!/usr/bin/env bats
# nodeport-watch against a test Kubernetes API server with real TLS
# (tests/integration/helpers/kube_apiserver.py), certificates made per
# run with openssl.  Every test gets a fresh server on random loopback
# ports; kubectl checks that the server is realistic enough.

bats_require_minimum_version 1.5.0

load helpers/common
load helpers/nodeport-watch

setup_file() {
	export NPW_DIR=$(mktemp -d /tmp/npw-bats.XXXXXX)
	export PKI=$NPW_DIR/pki
	npw_make_pki
}

teardown_file() {
	rm -rf "$NPW_DIR"
}

setup() {
	T=$NPW_DIR/t$BATS_TEST_NUMBER
	mkdir -p "$T"
	PORT=$(npw_free_port)
	CTL=$(npw_free_port)
	while [ "$CTL" = "$PORT" ]; do CTL=$(npw_free_port); done
	SERVER=https://127.0.0.1:$PORT
	APPLET_PID=
}

teardown() {
	[ -n "$APPLET_PID" ] && kill "$APPLET_PID" 2>/dev/null
	[ -n "$APPLET_PID" ] && wait "$APPLET_PID" 2>/dev/null
	for f in "$NPW_DIR"/*.pid; do npw_stop_pidfile "$f"; done
	true
}

start_api() {
	npw_start_apiserver "api$BATS_TEST_NUMBER" "$PORT" "$CTL" "$@"
}

wait_api() { npw_wait_port "$PORT"; }

# Runs the applet in the background; events to $T/out, log to $T/err.
start_watch() {
	"$RDAGENT" nodeport-watch "$@" > "$T/out" 2> "$T/err" &
	APPLET_PID=$!
}

# Runs --once; events in $output, log in $stderr.
once() {
	run --separate-stderr timeout 20 "$RDAGENT" nodeport-watch --once "$@"
}

# The snapshot of the fixture services, as nodeport-watch writes it.
FIXTURE_SNAPSHOT="sync kubernetes
add kubernetes/default/web tcp 0.0.0.0 30080 80
add kubernetes/default/web tcp 0.0.0.0 30443 443
add kubernetes/default/web tcp 0.0.0.0 31850 9990
add kubernetes/edge-system/dns-np tcp 0.0.0.0 30053 53
add kubernetes/edge-system/dns-np udp 0.0.0.0 30053 53
add kubernetes/kube-system/traefik tcp 0.0.0.0 80 80
add kubernetes/kube-system/traefik tcp 0.0.0.0 443 443
done kubernetes"

service_json() {
	# service_json NAMESPACE NAME TYPE "PROTO:PORT:NODEPORT ..."
	local ns=$1 name=$2 type=$3 ports="" p proto port node
	for p in $4; do
		IFS=: read -r proto port node <<< "$p"
		ports="$ports${ports:+,}{\"name\":\"p$port-$proto\",\"protocol\":\"$proto\",\"port\":$port,\"targetPort\":$port${node:+,\"nodePort\":$node}}"
	done
	printf '{"kind":"Service","apiVersion":"v1","metadata":{"name":"%s","namespace":"%s"},"spec":{"ports":[%s],"type":"%s","sessionAffinity":"None"},"status":{"loadBalancer":{}}}' \
		"$ns" "$name" "$ports" "$type" | sed 's/"name":"\([^"]*\)","namespace":"\([^"]*\)"/"name":"\2","namespace":"\1"/'
}

apply() {
	service_json "$@" > "$T/svc.json"
	npw_ctl "$CTL" POST /ctl/apply "$T/svc.json" > /dev/null
}

@test "kubectl lists the test server's services" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	run timeout 30 kubectl --kubeconfig "$T/kc" --cache-dir "$T/kube-cache" get svc -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.spec.type}{"\n"}{end}'
	[ "$status" -eq 0 ]
	echo "$output" | sort > "$T/kubectl"
	printf '%s\n' "default/kubernetes ClusterIP" "default/web NodePort" \
		"edge-system/dns-np NodePort" "kube-system/kube-dns ClusterIP" \
		"kube-system/traefik LoadBalancer" > "$T/expected"
	diff "$T/expected" "$T/kubectl"
	# Every owner nodeport-watch reports is a service kubectl sees.
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	for owner in $(echo "$output" | awk '$1 == "add" { sub("kubernetes/", "", $2); print $2 }' | sort -u); do
		grep -q "^$owner " "$T/kubectl"
	done
	# kubectl's watch follows the same chunked stream.
	kubectl --kubeconfig "$T/kc" --cache-dir "$T/kube-cache" get svc -A -w -o name > "$T/kubectl-watch" 2>&1 &
	APPLET_PID=$!
	npw_wait_line "$T/kubectl-watch" '^service/traefik' 30
	apply default seen-by-kubectl NodePort "TCP:85:30085"
	npw_wait_line "$T/kubectl-watch" '^service/seen-by-kubectl'
}

@test "once writes the snapshot with an EC P-256 key" {
	start_api
	wait_api
	head -1 "$PKI/client-p256.key" | grep -q 'BEGIN EC PRIVATE KEY'
	npw_kubeconfig "$T/kc" "$SERVER" p256
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
	npw_ctl "$CTL" GET /ctl/requests > "$T/requests"
	grep -q '"auth": "certificate"' "$T/requests"
	grep -q '"limit": "500"' "$T/requests"
}

@test "P-384 PKCS#8 client key accepted" {
	start_api
	wait_api
	head -1 "$PKI/client-p384.key" | grep -q 'BEGIN PRIVATE KEY'
	npw_kubeconfig "$T/kc" "$SERVER" p384
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
}

@test "RSA PRIVATE KEY client key accepted" {
	start_api
	wait_api
	head -1 "$PKI/client-rsa.key" | grep -q 'BEGIN RSA PRIVATE KEY'
	npw_kubeconfig "$T/kc" "$SERVER" rsa
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
}

@test "RSA server certificate and chain accepted" {
	NPW_SERVER_CERT=server-rsa start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	sed -i "s|certificate-authority-data: .*|certificate-authority-data: $(b64 "$PKI/rsa-ca.crt")|" "$T/kc"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
}

@test "client chain without intermediate rejected" {
	# The server trusts only the client root CA, so it accepts the
	# certificate only when the intermediate is sent with it.
	start_api
	wait_api
	cp "$PKI/client-p256.crt" "$PKI/client-leafonly.chain"
	cp "$PKI/client-p256.key" "$PKI/client-leafonly.key"
	npw_kubeconfig "$T/kc" "$SERVER" leafonly
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"rejected the client certificate"* ]]
}

@test "client certificate from another CA rejected" {
	start_api
	wait_api
	cp "$PKI/stranger.crt" "$PKI/client-stranger.chain"
	cp "$PKI/stranger.key" "$PKI/client-stranger.key"
	npw_kubeconfig "$T/kc" "$SERVER" stranger
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"TLS with $SERVER failed"* ]]
}

@test "file forms resolve against the kubeconfig directory" {
	start_api
	wait_api
	mkdir -p "$T/conf/certs"
	cp "$PKI/server-ca.crt" "$T/conf/certs/ca.crt"
	cp "$PKI/client-rsa.chain" "$T/conf/certs/client.crt"
	cp "$PKI/client-rsa.key" "$T/conf/certs/client.key"
	cat > "$T/conf/config" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: test   # a comment
  cluster:
    server: "$SERVER"
    certificate-authority: certs/ca.crt
users:
- name: admin
  user:
    client-certificate: certs/client.crt
    client-key: 'certs/client.key'
contexts:
- name: other
  context: {cluster: missing, user: missing}
- name: test
  context:
    cluster: test
    user: admin
current-context: test
EOC
	# The flow mapping above belongs to a context that is not used, but
	# the reader rejects it anyway: flow mappings are not in the subset.
	once --kubeconfig "$T/conf/config"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"line 15: key 'context': YAML flow mappings other than {} are not supported"* ]]
	sed -i 's/context: {cluster: missing, user: missing}/context:\n    cluster: missing/' "$T/conf/config"
	once --kubeconfig "$T/conf/config"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
	# A named file that is missing makes the kubeconfig invalid; the
	# kubeconfig itself is not reported missing.
	rm "$T/conf/certs/ca.crt"
	once --kubeconfig "$T/conf/config"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"read certificate-authority $T/conf/certs/ca.crt failed: No such file or directory"* ]]
	[[ "$stderr" != *"does not exist"* ]]
}

@test "JSON kubeconfig read" {
	start_api
	wait_api
	cat > "$T/kc.json" <<EOC
{
  "kind": "Config",
  "apiVersion": "v1",
  "preferences": {},
  "clusters": [{"name": "default", "cluster": {"server": "$SERVER",
    "certificate-authority-data": "$(b64 "$PKI/server-ca.crt")"}}],
  "users": [{"name": "default", "user": {
    "client-certificate-data": "$(b64 "$PKI/client-p256.chain")",
    "client-key-data": "$(b64 "$PKI/client-p256.key")"}}],
  "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
  "current-context": "default"
}
EOC
	once --kubeconfig "$T/kc.json"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
}

write_token_config() {
	cat > "$1" <<EOC
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: $(b64 "$PKI/server-ca.crt")
    server: $SERVER
  name: c
contexts:
- context:
    cluster: c
    user: u
  name: ctx
current-context: ctx
users:
- name: u
  user:
    $2
EOC
}

@test "bearer token and tokenFile sent" {
	start_api --token "tok-$$-a" --token "tok-$$-b"
	wait_api
	write_token_config "$T/kc" "token: tok-$$-a"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
	printf 'tok-%s-b\n' "$$" > "$T/token"
	write_token_config "$T/kc2" "tokenFile: $T/token"
	once --kubeconfig "$T/kc2"
	[ "$status" -eq 0 ]
	npw_ctl "$CTL" GET /ctl/requests > "$T/requests"
	[ "$(grep -o '"auth": "token"' "$T/requests" | wc -l)" -ge 2 ]
}

@test "wrong bearer token is a permanent failure" {
	start_api --token "tok-$$"
	wait_api
	write_token_config "$T/kc" "token: wrong"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"HTTP 401"* ]]
	[[ "$stderr" != *"wrong"* ]]
}

@test "server certificate from another CA rejected" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	sed -i "s|certificate-authority-data: .*|certificate-authority-data: $(b64 "$PKI/other-ca.crt")|" "$T/kc"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"not signed by the kubeconfig's certificate authority"* ]]
}

@test "host name mismatch names expected and offered" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER" p256 "    tls-server-name: wrong.example"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"expected host name wrong.example; it names DNS:kubernetes, DNS:kubernetes.default.svc.cluster.local, DNS:localhost, IP:127.0.0.1, IP:::1, IP:10.43.0.1"* ]]
	# The matching name passes.
	npw_kubeconfig "$T/kc" "$SERVER" p256 "    tls-server-name: kubernetes.default.svc.cluster.local"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
}

@test "IP address mismatch against DNS-only certificate" {
	NPW_SERVER_CERT=server-dns start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"expected IP address 127.0.0.1; it names DNS:localhost"* ]]
	# Its CN is 127.0.0.1, which must not count as a name.
	openssl x509 -in "$PKI/server-dns.crt" -noout -subject | grep -q 'CN = 127.0.0.1'
	npw_kubeconfig "$T/kc" "https://localhost:$PORT"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
}

@test "insecure-skip-tls-verify honoured with a warning" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER" p256 "    insecure-skip-tls-verify: true"
	sed -i "s|certificate-authority-data: .*|certificate-authority-data: $(b64 "$PKI/other-ca.crt")|" "$T/kc"
	run --separate-stderr timeout 20 "$RDAGENT" nodeport-watch --once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
	[[ "$stderr" == *"warn: kubeconfig $T/kc: cluster 'default' sets insecure-skip-tls-verify"* ]]
}

@test "exec plugin rejected with key and line" {
	npw_kubeconfig "$T/kc" "$SERVER"
	cat >> "$T/kc" <<'EOC'
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
EOC
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"line 20: key 'exec': exec credential plugins are not supported"* ]]
}

@test "YAML anchors rejected with key and line" {
	npw_kubeconfig "$T/kc" "$SERVER"
	sed -i 's|^    server: \(.*\)|    server: \&srv \1|' "$T/kc"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"line 5: key 'server': YAML anchors are not supported"* ]]
}

@test "watch emits adds, differences and deletes" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	apply default svc-a NodePort "TCP:8080:30800 UDP:8080:30800"
	npw_wait_line "$T/out" 'add kubernetes/default/svc-a udp 0.0.0.0 30800 8080'
	grep -q 'add kubernetes/default/svc-a tcp 0.0.0.0 30800 8080' "$T/out"
	# Type change NodePort -> LoadBalancer: the nodePorts go, the ports come.
	apply default svc-a LoadBalancer "TCP:8080:30800 UDP:8080:30800"
	npw_wait_line "$T/out" 'add kubernetes/default/svc-a udp 0.0.0.0 8080 8080'
	grep -q 'del kubernetes/default/svc-a tcp 0.0.0.0 30800 8080' "$T/out"
	grep -q 'del kubernetes/default/svc-a udp 0.0.0.0 30800 8080' "$T/out"
	# Only the removed port changes.
	apply default svc-a LoadBalancer "TCP:8080:30800"
	npw_wait_line "$T/out" 'del kubernetes/default/svc-a udp 0.0.0.0 8080 8080'
	[ "$(npw_count "$T/out" 'add kubernetes/default/svc-a tcp 0.0.0.0 8080 8080')" -eq 1 ]
	# ClusterIP has nothing to forward.
	apply default svc-a ClusterIP "TCP:8080"
	npw_wait_line "$T/out" 'del kubernetes/default/svc-a tcp 0.0.0.0 8080 8080'
	npw_ctl "$CTL" POST '/ctl/delete?namespace=default&name=web' > /dev/null
	npw_wait_line "$T/out" 'del kubernetes/default/web tcp 0.0.0.0 31850 9990'
	grep -q 'del kubernetes/default/web tcp 0.0.0.0 30080 80' "$T/out"
	grep -q 'del kubernetes/default/web tcp 0.0.0.0 30443 443' "$T/out"
	[ "$(npw_count "$T/out" '^sync')" -eq 1 ]
}

@test "SIGUSR1 logs the connection and services" {
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/err" 'does not exist yet; waiting for it'
	kill -USR1 "$APPLET_PID"
	npw_wait_line "$T/err" "nodeport-watch: info: state: not connected to no server yet; kubeconfig $T/kc not read yet; 0 services (0 with bindings), 0 bindings"
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	npw_wait_line "$T/out" '^done kubernetes'
	kill -USR1 "$APPLET_PID"
	npw_wait_line "$T/err" "nodeport-watch: info: state: watching services on $SERVER; resourceVersion [0-9]*; 5 services (3 with bindings), 7 bindings"
	npw_wait_line "$T/err" 'nodeport-watch: info: state: service default/web: tcp 30080->80, tcp 30443->443, tcp 31850->9990$'
	grep -q 'nodeport-watch: info: state: service edge-system/dns-np: tcp 30053->53, udp 30053->53$' "$T/err"
	kill -0 "$APPLET_PID"
	# The dump writes no port event.
	[ "$(cat "$T/out")" = "$FIXTURE_SNAPSHOT" ]
}

@test "listen-addr and source set the event fields" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	once --kubeconfig "$T/kc" --listen-addr 127.0.0.1 --source k3s
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sync k3s" ]
	[ "${lines[1]}" = "add k3s/default/web tcp 127.0.0.1 30080 80" ]
	[ "${lines[8]}" = "done k3s" ]
}

@test "usage errors exit 2" {
	run "$RDAGENT" nodeport-watch --listen-addr 10.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"--listen-addr must be 0.0.0.0 or 127.0.0.1"* ]]
	run "$RDAGENT" nodeport-watch --source BAD
	[ "$status" -eq 2 ]
	run "$RDAGENT" nodeport-watch extra
	[ "$status" -eq 2 ]
	run "$RDAGENT" nodeport-watch --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--kubeconfig PATH"* ]]
}

@test "KUBECONFIG is used without --kubeconfig" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	KUBECONFIG="$T/kc" run --separate-stderr timeout 20 "$RDAGENT" nodeport-watch --once
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
	# --kubeconfig wins over KUBECONFIG.
	KUBECONFIG="$T/missing" run --separate-stderr timeout 20 "$RDAGENT" nodeport-watch --once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$output" = "$FIXTURE_SNAPSHOT" ]
	# Neither: k3s's path.
	if [ ! -e /etc/rancher/k3s/k3s.yaml ]; then
		run --separate-stderr env -u KUBECONFIG timeout 20 "$RDAGENT" nodeport-watch --once
		[ "$status" -eq 111 ]
		[[ "$stderr" == *"kubeconfig /etc/rancher/k3s/k3s.yaml does not exist"* ]]
	fi
}

@test "once with a missing kubeconfig exits 111" {
	once --kubeconfig "$T/missing/config"
	[ "$status" -eq 111 ]
	[[ "$stderr" == *"does not exist"* ]]
}

@test "bookmark advances the resume version" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	# A change in another namespace moves the version on; the bookmark
	# carries the new version to the watcher.
	apply other quiet ClusterIP "TCP:80"
	rv=$(npw_ctl "$CTL" POST /ctl/bookmark | sed 's/.*"resourceVersion": "\([0-9]*\)".*/\1/')
	sleep 0.5
	npw_ctl "$CTL" POST /ctl/end > /dev/null
	for _ in $(seq 50); do
		npw_ctl "$CTL" GET /ctl/requests | grep -q "\"resourceVersion\": \"$rv\"" && break
		sleep 0.1
	done
	npw_ctl "$CTL" GET /ctl/requests > "$T/requests"
	grep -q "\"resourceVersion\": \"$rv\"" "$T/requests"
	[ "$(npw_count "$T/out" '^sync')" -eq 1 ]
	# Every watch asks for bookmarks and a server-side end in 5-10 min.
	python3 - "$T/requests" <<'PY'
import json, sys
watches = [r["query"] for r in json.load(open(sys.argv[1])) if r["query"].get("watch")]
assert len(watches) >= 2, watches
for q in watches:
    assert q["watch"] == "1" and q["allowWatchBookmarks"] == "true", q
    assert 300 <= int(q["timeoutSeconds"]) < 600, q
PY
}

@test "ERROR 410 frame relists as a snapshot" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	apply default late NodePort "TCP:81:30081"
	npw_wait_line "$T/out" 'add kubernetes/default/late tcp 0.0.0.0 30081 81'
	npw_ctl "$CTL" POST /ctl/expire > /dev/null
	for _ in $(seq 100); do [ "$(npw_count "$T/out" '^done')" -eq 2 ] && break; sleep 0.05; done
	[ "$(npw_count "$T/out" '^sync kubernetes')" -eq 2 ]
	awk '/^sync/ { n++ } n == 2' "$T/out" > "$T/second"
	grep -q 'add kubernetes/default/late tcp 0.0.0.0 30081 81' "$T/second"
	[ "$(grep -c '^add' "$T/second")" -eq 8 ]
	grep -q 'expired (code 410, reason Expired' "$T/err"
}

@test "ERROR Gone frame without code relists" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	npw_ctl "$CTL" POST '/ctl/expire?reason=Gone&code=none' > /dev/null
	for _ in $(seq 100); do [ "$(npw_count "$T/out" '^done')" -eq 2 ] && break; sleep 0.05; done
	[ "$(npw_count "$T/out" '^sync kubernetes')" -eq 2 ]
	grep -q 'expired (code 0, reason Gone' "$T/err"
}

@test "HTTP 410 on watch relists" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	npw_ctl "$CTL" POST '/ctl/expire?mode=http' > /dev/null
	for _ in $(seq 100); do [ "$(npw_count "$T/out" '^done')" -eq 2 ] && break; sleep 0.05; done
	[ "$(npw_count "$T/out" '^sync kubernetes')" -eq 2 ]
	grep -q 'HTTP 410' "$T/err"
}

@test "dropped watch resumes without a snapshot" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	npw_ctl "$CTL" POST /ctl/drop > /dev/null
	npw_wait_line "$T/err" 'watch connection to .* closed; retrying in 100 ms'
	apply default after-drop NodePort "TCP:82:30082"
	npw_wait_line "$T/out" 'add kubernetes/default/after-drop tcp 0.0.0.0 30082 82'
	npw_ctl "$CTL" POST /ctl/end > /dev/null
	apply default after-end NodePort "TCP:83:30083"
	npw_wait_line "$T/out" 'add kubernetes/default/after-end tcp 0.0.0.0 30083 83'
	[ "$(npw_count "$T/out" '^sync')" -eq 1 ]
}

@test "slow start backs off through refused and 503" {
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/err" 'Connection refused; retrying in 100 ms'
	start_api --refuse-seconds 1.5 --unavailable 2
	npw_wait_line "$T/out" '^done kubernetes' 20
	[ "$(cat "$T/out")" = "$FIXTURE_SNAPSHOT" ]
	grep -q 'HTTP 503 Service Unavailable: apiserver not ready' "$T/err"
	# The delay has grown past its 100 ms start by the time 503 comes.
	delay=$(sed -n 's/.*apiserver not ready; retrying in \([0-9]*\) ms.*/\1/p' "$T/err" | head -1)
	[ "$delay" -gt 100 ]
	[ "$delay" -le 5000 ]
}

@test "list pages through continue tokens" {
	start_api
	wait_api
	npw_ctl "$CTL" POST '/ctl/bulk?count=1200' > /dev/null
	npw_kubeconfig "$T/kc" "$SERVER"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^add kubernetes/bulk/')" -eq 1200 ]
	[ "$(echo "$output" | grep -c '^sync')" -eq 1 ]
	npw_ctl "$CTL" GET /ctl/requests > "$T/requests"
	[ "$(grep -o '"continue": ' "$T/requests" | wc -l)" -eq 2 ]
}

@test "expired continue token restarts the list" {
	start_api
	wait_api
	npw_ctl "$CTL" POST '/ctl/bulk?count=1200' > /dev/null
	npw_ctl "$CTL" POST '/ctl/expire-continue?count=1' > /dev/null
	npw_kubeconfig "$T/kc" "$SERVER"
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep '^add kubernetes/bulk/' | sort -u | wc -l)" -eq 1200 ]
	[ "$(echo "$output" | grep -c '^sync')" -eq 1 ]
	[ "$(echo "$output" | grep -c '^done')" -eq 1 ]
	[[ "$stderr" == *"list continue token expired"* ]]
}

@test "oversized service is skipped" {
	start_api
	wait_api
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	python3 -c '
import json, sys
big = {"kind": "Service", "apiVersion": "v1",
       "metadata": {"name": "huge", "namespace": "default", "annotations": {"x": "y" * 600000}},
       "spec": {"type": "NodePort", "ports": [{"protocol": "TCP", "port": 1, "nodePort": 30001}]}}
json.dump(big, open(sys.argv[1], "w"))' "$T/big.json"
	npw_ctl "$CTL" POST /ctl/apply "$T/big.json" > /dev/null
	apply default small NodePort "TCP:84:30084"
	npw_wait_line "$T/out" 'add kubernetes/default/small tcp 0.0.0.0 30084 84'
	not grep -q huge "$T/out"
	grep -q 'watch frame skipped (larger than 524288 bytes)' "$T/err"
	kill -0 "$APPLET_PID"
	# In a list, the items around the oversized one still count.
	once --kubeconfig "$T/kc"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"list item skipped (larger than 524288 bytes)"* ]]
	[[ "$output" != *huge* ]]
	[[ "$output" == *"add kubernetes/default/small tcp 0.0.0.0 30084 84"* ]]
	[[ "$output" == *"add kubernetes/kube-system/traefik tcp 0.0.0.0 443 443"* ]]
	[ "${lines[-1]}" = "done kubernetes" ]
}

@test "kubeconfig that appears late is picked up" {
	start_api
	wait_api
	start_watch --kubeconfig "$T/late/rancher/k3s.yaml"
	npw_wait_line "$T/err" 'does not exist yet; waiting for it'
	sleep 0.3
	mkdir -p "$T/late/rancher"
	npw_kubeconfig "$T/late/rancher/k3s.yaml" "$SERVER"
	npw_wait_line "$T/out" '^done kubernetes'
	[ "$(cat "$T/out")" = "$FIXTURE_SNAPSHOT" ]
	[ "$(npw_count "$T/err" 'waiting for it')" -eq 1 ]
}

@test "kubeconfig change reconnects with a snapshot" {
	start_api
	wait_api
	PORT2=$(npw_free_port)
	CTL2=$(npw_free_port)
	npw_start_apiserver "second$BATS_TEST_NUMBER" "$PORT2" "$CTL2"
	npw_wait_port "$PORT2"
	npw_ctl "$CTL2" POST '/ctl/delete?namespace=default&name=web' > /dev/null
	npw_kubeconfig "$T/kc" "$SERVER"
	start_watch --kubeconfig "$T/kc"
	npw_wait_line "$T/out" '^done kubernetes'
	# Rewriting the same content changes nothing.
	cp "$T/kc" "$T/kc.same" && mv "$T/kc.same" "$T/kc"
	sleep 0.3
	npw_kubeconfig "$T/kc" "https://127.0.0.1:$PORT2" rsa
	for _ in $(seq 100); do [ "$(npw_count "$T/out" '^done')" -eq 2 ] && break; sleep 0.05; done
	[ "$(npw_count "$T/out" '^sync')" -eq 2 ]
	awk '/^sync/ { n++ } n == 2' "$T/out" > "$T/second"
	not grep -q 'default/web' "$T/second"
	grep -q 'kube-system/traefik' "$T/second"
	grep -q "kubeconfig $T/kc loaded; listing services" "$T/err"
}
