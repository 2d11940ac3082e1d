/* Unit tests for lib/kubeconfig: real-world shapes (k3s's file, a merged
 * kubectl config, JSON) and every construct the reader rejects, with the
 * line and key it reports. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubeconfig.h"

#define FIXTURES "tests/fixtures/nodeport-watch/"

static int count(const uint8_t *text, size_t len, const char *needle)
{
	int n = 0;
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= len; i++)
		if (!memcmp(text + i, needle, nl))
			n++;
	return n;
}

static void k3s_file(void **state)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;
	size_t len;
	char *text = unit_read_file(FIXTURES "k3s_kubeconfig.yaml", &len);

	assert_int_equal(kubeconfig_parse(text, len, "/etc/rancher/k3s", &kc, &err), 0);
	assert_string_equal(kc.context, "default");
	assert_string_equal(kc.server, "https://127.0.0.1:6443");
	assert_int_equal(kc.insecure, 0);
	assert_non_null(kc.ca_pem);
	assert_int_equal(count(kc.ca_pem, kc.ca_pem_len, "-----BEGIN CERTIFICATE-----"), 1);
	/* k3s writes the client certificate followed by its CA. */
	assert_int_equal(count(kc.cert_pem, kc.cert_pem_len, "-----BEGIN CERTIFICATE-----"), 2);
	assert_int_equal(count(kc.key_pem, kc.key_pem_len, "-----BEGIN EC PRIVATE KEY-----"), 1);
	assert_null(kc.token);
	assert_null(kc.ca_file);
	kubeconfig_free(&kc);
	free(text);
}

static void kubectl_merged_file(void **state)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;
	size_t len;
	char *text = unit_read_file(FIXTURES "kubectl_merged_config.yaml", &len);

	/* The exec plugin belongs to a user the current context does not
	 * use, so the file is fine. */
	assert_int_equal(kubeconfig_parse(text, len, NULL, &kc, &err), 0);
	assert_string_equal(kc.context, "rancher-desktop");
	assert_string_equal(kc.cluster, "default");
	assert_string_equal(kc.user, "default");
	assert_string_equal(kc.server, "https://127.0.0.1:6443");
	assert_int_equal(count(kc.cert_pem, kc.cert_pem_len, "-----BEGIN CERTIFICATE-----"), 2);
	kubeconfig_free(&kc);
	free(text);
}

static void kubectl_merged_other_contexts(void **state)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;
	char msg[300];
	size_t len;
	char *text = unit_read_file(FIXTURES "kubectl_merged_config.yaml", &len);
	char *edited = malloc(len + 64), *p;

	/* Switch to docker-desktop: insecure, RSA key. */
	p = strstr(text, "current-context: rancher-desktop");
	assert_non_null(p);
	snprintf(edited, len + 64, "%.*scurrent-context: docker-desktop%s", (int)(p - text), text,
		 p + strlen("current-context: rancher-desktop"));
	assert_int_equal(kubeconfig_parse(edited, strlen(edited), NULL, &kc, &err), 0);
	assert_int_equal(kc.insecure, 1);
	assert_string_equal(kc.server, "https://kubernetes.docker.internal:6443");
	assert_null(kc.ca_pem);
	assert_int_equal(count(kc.key_pem, kc.key_pem_len, "RSA PRIVATE KEY"), 2);
	kubeconfig_free(&kc);

	/* Switch to GKE: its user has an exec plugin. */
	snprintf(edited, len + 64, "%.*scurrent-context: gke_my-project_europe-west1_prod%s",
		 (int)(p - text), text, p + strlen("current-context: rancher-desktop"));
	assert_int_equal(kubeconfig_parse(edited, strlen(edited), NULL, &kc, &err), -EINVAL);
	assert_int_equal(err.line, 43);
	assert_string_equal(err.key, "exec");
	kubeconfig_strerror(&err, msg, sizeof(msg));
	assert_string_equal(msg, "line 43: key 'exec': exec credential plugins are not supported");
	free(edited);
	free(text);
}

static const char json_config[] =
	"{\n"
	"  \"kind\": \"Config\",\n"
	"  \"apiVersion\": \"v1\",\n"
	"  \"preferences\": {},\n"
	"  \"clusters\": [\n"
	"    {\"name\": \"c\", \"cluster\": {\"server\": \"https://[::1]:6443/prefix/\",\n"
	"      \"certificate-authority\": \"ca.crt\", \"insecure-skip-tls-verify\": false}}\n"
	"  ],\n"
	"  \"users\": [{\"name\": \"u\", \"user\": {\"token\": \"abc\\u0064\", \"tokenFile\": \"/ignored\"}}],\n"
	"  \"contexts\": [{\"name\": \"x\", \"context\": {\"cluster\": \"c\", \"user\": \"u\"}}],\n"
	"  \"current-context\": \"x\"\n"
	"}\n";

static void json_file(void **state)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;

	assert_int_equal(kubeconfig_parse(json_config, strlen(json_config), "/home/me/.kube", &kc, &err), 0);
	assert_string_equal(kc.server, "https://[::1]:6443/prefix/");
	assert_string_equal(kc.ca_file, "/home/me/.kube/ca.crt");
	assert_string_equal(kc.token, "abcd");
	/* token wins over tokenFile. */
	assert_null(kc.token_file);
	kubeconfig_free(&kc);
}

static void json_errors_have_lines(void **state)
{
	static const char text[] =
		"{\"current-context\": \"x\",\n"
		" \"contexts\": [{\"name\": \"x\", \"context\": {\"cluster\": \"c\", \"user\": \"u\"}}],\n"
		" \"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": \"https://h\"}}],\n"
		" \"users\": [{\"name\": \"u\", \"user\": {\n"
		"   \"auth-provider\": {\"name\": \"oidc\"}}}]}\n";
	struct kubeconfig kc;
	struct kubeconfig_error err;

	assert_int_equal(kubeconfig_parse(text, strlen(text), NULL, &kc, &err), -EINVAL);
	assert_int_equal(err.line, 5);
	assert_string_equal(err.key, "auth-provider");
	assert_int_equal(kubeconfig_parse("{\"a\": ", 6, NULL, &kc, &err), -EINVAL);
	assert_string_equal(err.message, "truncated JSON");
}

/* A minimal valid file with one line replaceable by the case's text. */
static int parse_with(const char *user_lines, const char *cluster_lines, struct kubeconfig *kc,
		      struct kubeconfig_error *err)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "apiVersion: v1\n"
		 "clusters:\n"
		 "- cluster:\n"
		 "    server: https://127.0.0.1:6443\n"
		 "%s"
		 "  name: c\n"
		 "contexts:\n"
		 "- context:\n"
		 "    cluster: c\n"
		 "    user: u\n"
		 "  name: x\n"
		 "current-context: x\n"
		 "users:\n"
		 "- name: u\n"
		 "  user:\n"
		 "%s",
		 cluster_lines, user_lines);
	return kubeconfig_parse(text, strlen(text), "/d", kc, err);
}

static void rejects_unsupported_constructs(void **state)
{
	static const struct {
		const char *user, *cluster;
		unsigned line;
		const char *key, *message;
	} cases[] = {
		{ "    exec:\n      command: aws\n", "", 15, "exec", "exec credential plugins are not supported" },
		{ "    auth-provider:\n      name: gcp\n", "", 15, "auth-provider", "auth provider plugins are not supported" },
		{ "    username: admin\n", "", 15, "username", "basic authentication is not supported" },
		{ "    as: someone\n", "", 15, "as", "impersonation is not supported" },
		{ "    tokn: x\n", "", 15, "tokn", "unknown user field" },
		{ "", "    proxy-url: http://proxy:3128\n", 5, "proxy-url", "HTTP and SOCKS proxies are not supported" },
		{ "    token: &t abc\n", "", 15, "token", "YAML anchors are not supported" },
		{ "    token: *t\n", "", 15, "token", "YAML aliases are not supported" },
		{ "    token: !!str abc\n", "", 15, "token", "YAML tags are not supported" },
		{ "    token: |\n      abc\n", "", 15, "token", "YAML block scalars are not supported" },
		{ "    token: [a, b]\n", "", 15, "token", "YAML flow sequences other than [] are not supported" },
		{ "    token: \"unterminated\n", "", 15, "token", "quoted scalar does not end at the end of the line" },
		{ "    token: \"bad \\q escape\"\n", "", 15, "token", "invalid escape in quoted scalar" },
		{ "    token: a\n    token: b\n", "", 16, "token", "duplicate key" },
		{ "    client-certificate: c.crt\n", "", 14, "", "user 'u' has a client certificate without a key, or a key without a certificate" },
		{ "    client-certificate-data: not*base64\n    client-key-data: Zg==\n", "", 15, "client-certificate-data", "invalid base64" },
		{ "", "    insecure-skip-tls-verify: maybe\n", 5, "insecure-skip-tls-verify", "expected true or false, not 'maybe'" },
		{ "\ttoken: x\n", "", 15, "", "tab in indentation; YAML indents with spaces only" },
		{ "      token: x\n    user2: y\n", "", 16, "", "unexpected indentation in a mapping" },
	};
	struct kubeconfig kc;
	struct kubeconfig_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse_with(cases[i].user, cases[i].cluster, &kc, &err);

		if (r != -EINVAL || err.line != cases[i].line || strcmp(err.key, cases[i].key) ||
		    strcmp(err.message, cases[i].message))
			print_error("case %zu: r=%d line %u key '%s': %s\n", i, r, err.line, err.key, err.message);
		assert_int_equal(r, -EINVAL);
		assert_int_equal(err.line, cases[i].line);
		assert_string_equal(err.key, cases[i].key);
		assert_string_equal(err.message, cases[i].message);
	}
}

static void scalar_forms(void **state)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;

	int r = parse_with("    token: 'it''s # not a comment'   # a comment\n"
				    "    client-certificate: \"certs/c\\u00e9.crt\"\n"
				    "    client-key: /abs/k.key\n",
				    "    insecure-skip-tls-verify: True\n"
				    "    tls-server-name: kubernetes\n", &kc, &err);

	if (r)
		print_error("line %u key '%s': %s\n", err.line, err.key, err.message);
	assert_int_equal(r, 0);
	assert_string_equal(kc.token, "it's # not a comment");
	assert_string_equal(kc.cert_file, "/d/certs/c\xc3\xa9.crt");
	assert_string_equal(kc.key_file, "/abs/k.key");
	assert_int_equal(kc.insecure, 1);
	assert_string_equal(kc.tls_server_name, "kubernetes");
	kubeconfig_free(&kc);

	/* A plain scalar folded over lines, e.g. a wrapped token. */
	assert_int_equal(parse_with("    token: abc\n      def\n", "", &kc, &err), 0);
	assert_string_equal(kc.token, "abc def");
	kubeconfig_free(&kc);

	/* Data forms win over file forms. */
	assert_int_equal(parse_with("    client-certificate-data: Zm9v\n    client-certificate: x\n"
				    "    client-key-data: YmFy\n", "", &kc, &err), 0);
	assert_int_equal(kc.cert_pem_len, 3);
	assert_memory_equal(kc.cert_pem, "foo", 3);
	assert_null(kc.cert_file);
	kubeconfig_free(&kc);
}

static void missing_references(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "apiVersion: v1\nkind: Config\n", "current-context is not set" },
		{ "current-context: a\ncontexts: []\n", "context 'a' not found" },
		{ "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: c\n", "cluster 'c' not found" },
		{ "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\n"
		  "clusters:\n- name: c\n  cluster:\n    server: https://h\n", "user 'u' not found" },
		{ "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: c\n"
		  "clusters:\n- name: c\n  cluster:\n    certificate-authority: x\n", "cluster 'c' has no server" },
		{ "", "the file is empty" },
		{ "# only a comment\n", "the file is empty" },
		{ "a: b\n---\nc: d\n", "a second YAML document is not supported" },
		{ "  a: b\n", "the document must start at column 1" },
		{ "- a\n- b\n", "the document is not a mapping" },
	};
	struct kubeconfig kc;
	struct kubeconfig_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = kubeconfig_parse(cases[i].text, strlen(cases[i].text), NULL, &kc, &err);

		if (r != -EINVAL || strcmp(err.message, cases[i].message))
			print_error("case %zu: r=%d: %s\n", i, r, err.message);
		assert_int_equal(r, -EINVAL);
		assert_string_equal(err.message, cases[i].message);
	}
}

static void document_marker_and_bom(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf---\n"
		"current-context: a\n"
		"contexts:\n"
		"  - name: a\n"
		"    context:\n"
		"      cluster: c\n"
		"clusters:\n"
		"  - name: c\n"
		"    cluster:\n"
		"      server: https://h:1\n"
		"...\n"
		"ignored: after the end marker\n";
	struct kubeconfig kc;
	struct kubeconfig_error err;

	/* Sequences indented under their key, as some tools write them. */
	assert_int_equal(kubeconfig_parse(text, strlen(text), NULL, &kc, &err), 0);
	assert_string_equal(kc.server, "https://h:1");
	assert_null(kc.user);
	kubeconfig_free(&kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(k3s_file),
		cmocka_unit_test(kubectl_merged_file),
		cmocka_unit_test(kubectl_merged_other_contexts),
		cmocka_unit_test(json_file),
		cmocka_unit_test(json_errors_have_lines),
		cmocka_unit_test(rejects_unsupported_constructs),
		cmocka_unit_test(scalar_forms),
		cmocka_unit_test(missing_references),
		cmocka_unit_test(document_marker_and_bom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
