/* Unit tests for lib/tls: the subjectAltName reader on certificates made
 * with openssl, RFC 6125 host name matching, and configuration errors.
 * Handshakes are tested end to end in tests/integration. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

#define FIXTURES "tests/fixtures/nodeport-watch/"

struct names {
	char text[512];
};

static void collect(void *ctx, char type, const uint8_t *value, size_t len)
{
	struct names *n = ctx;
	char item[128];

	if (type == 'D') {
		snprintf(item, sizeof(item), "D:%.*s;", (int)len, (const char *)value);
	} else {
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(len == 4 ? AF_INET : AF_INET6, value, addr, sizeof(addr));
		snprintf(item, sizeof(item), "I:%s;", addr);
	}
	strcat(n->text, item);
}

static void san_entries_read(void **state)
{
	struct names n = { "" };
	size_t len;
	uint8_t *der = unit_read_file(FIXTURES "san-cert.der", &len);

	assert_int_equal(tls_cert_san(der, len, collect, &n), 4);
	assert_string_equal(n.text, "D:kubernetes;D:*.apps.example.com;I:127.0.0.1;I:::1;");
	/* Every truncation is malformed, never a crash or a partial match. */
	for (size_t cut = 0; cut < len; cut++)
		assert_true(tls_cert_san(der, cut, NULL, NULL) <= 0);
	free(der);
}

static void san_absent(void **state)
{
	size_t len;
	uint8_t *der = unit_read_file(FIXTURES "nosan-cert.der", &len);

	assert_int_equal(tls_cert_san(der, len, NULL, NULL), 0);
	free(der);
}

static void dns_matching(void **state)
{
	static const struct { const char *pattern, *host; int match; } cases[] = {
		{ "kubernetes", "kubernetes", 1 },
		{ "Kubernetes.Default", "kubernetes.default", 1 },
		{ "kubernetes.", "kubernetes", 1 },
		{ "kubernetes", "kubernetes.default", 0 },
		{ "*.apps.example.com", "web.apps.example.com", 1 },
		{ "*.apps.example.com", "a.b.apps.example.com", 0 },
		{ "*.apps.example.com", "apps.example.com", 0 },
		{ "*.com", "example.com", 0 },
		{ "w*.example.com", "web.example.com", 0 },
		{ "", "x", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(tls_dns_match(cases[i].pattern, strlen(cases[i].pattern), cases[i].host),
				 cases[i].match);
	/* An embedded NUL in a dNSName never matches. */
	assert_int_equal(tls_dns_match("kubernetes\0.evil", 16, "kubernetes"), 0);
}

static void name_kinds(void **state)
{
	struct tls_config cfg;

	tls_config_init(&cfg);
	assert_int_equal(tls_config_set_name(&cfg, "127.0.0.1"), 0);
	assert_int_equal(cfg.name_is_ip, 1);
	assert_int_equal(cfg.ip_len, 4);
	assert_int_equal(tls_config_set_name(&cfg, "fd00::1"), 0);
	assert_int_equal(cfg.ip_len, 16);
	assert_int_equal(tls_config_set_name(&cfg, "kubernetes.default.svc"), 0);
	assert_int_equal(cfg.name_is_ip, 0);
	assert_int_equal(tls_config_set_name(&cfg, ""), -EINVAL);
	tls_config_free(&cfg);
}

static void config_errors(void **state)
{
	static const char no_cert[] = "-----BEGIN EC PRIVATE KEY-----\nZm9v\n-----END EC PRIVATE KEY-----\n";
	static const char bad_cert[] = "-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n";
	static const char encrypted[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nZm9v\n-----END ENCRYPTED PRIVATE KEY-----\n";
	struct tls_config cfg;
	const char *why = NULL;
	size_t len;
	uint8_t *der = unit_read_file(FIXTURES "san-cert.der", &len);
	char *pem = malloc(len * 2 + 100);
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	tls_config_init(&cfg);
	assert_int_equal(tls_config_add_ca(&cfg, no_cert, strlen(no_cert), &why), -EINVAL);
	assert_string_equal(why, "no CERTIFICATE block in the CA certificates");
	assert_int_equal(tls_config_add_ca(&cfg, bad_cert, strlen(bad_cert), &why), -EINVAL);
	assert_string_equal(why, "a CA certificate cannot be decoded");

	/* A real certificate as PEM is a valid anchor. */
	o += (size_t)sprintf(pem, "-----BEGIN CERTIFICATE-----\n");
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)der[i] << 16 | (i + 1 < len ? (uint32_t)der[i + 1] << 8 : 0) |
			     (i + 2 < len ? der[i + 2] : 0);

		pem[o++] = b64[v >> 18];
		pem[o++] = b64[(v >> 12) & 63];
		pem[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		pem[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	o += (size_t)sprintf(pem + o, "\n-----END CERTIFICATE-----\n");
	assert_int_equal(tls_config_add_ca(&cfg, pem, o, &why), 1);
	assert_int_equal(cfg.anchor_count, 1);

	assert_int_equal(tls_config_set_client(&cfg, pem, o, encrypted, strlen(encrypted), &why), -EINVAL);
	assert_string_equal(why, "the client key is encrypted");
	tls_config_free(&cfg);
	tls_config_init(&cfg);
	assert_int_equal(tls_config_set_client(&cfg, pem, o, no_cert, strlen(no_cert), &why), -EINVAL);
	assert_string_equal(why, "the client key cannot be decoded (RSA, or EC on a supported curve, expected)");
	tls_config_free(&cfg);
	tls_config_init(&cfg);
	assert_int_equal(tls_config_set_client(&cfg, no_cert, strlen(no_cert), no_cert, strlen(no_cert), &why), -EINVAL);
	assert_string_equal(why, "no CERTIFICATE block in the client certificate");
	tls_config_free(&cfg);
	free(pem);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(san_entries_read),
		cmocka_unit_test(san_absent),
		cmocka_unit_test(dns_matching),
		cmocka_unit_test(name_kinds),
		cmocka_unit_test(config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
