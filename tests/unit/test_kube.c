/* Unit tests for lib/kube: Service extraction and port rules, watch frame
 * decoding on recorded frames, list metadata, and the streaming splitter
 * fed in every piece size. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

#define FIXTURES "tests/fixtures/nodeport-watch/"

static jsmntok_t tokens[KUBE_TOKENS_MAX];

/* Returns line number n (0-based) of text, without its newline. */
static char *nth_line(const char *text, int n, size_t *len)
{
	const char *p = text, *e;

	while (n-- > 0) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	e = strchr(p, '\n');
	*len = e ? (size_t)(e - p) : strlen(p);
	return (char *)p;
}

static void linkerd_watch_stream(void **state)
{
	struct kube_event ev;
	struct kube_binding b[KUBE_PORTS_MAX];
	const char *reason = NULL;
	size_t len, n;
	char *text = unit_read_file(FIXTURES "watch_services_linkerd_gke2016.ndjson", &len);
	char *line = nth_line(text, 0, &n);

	assert_int_equal(kube_event_parse(line, n, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
	assert_int_equal(ev.type, KUBE_ADDED);
	assert_string_equal(ev.service.namespace, "pythonsky");
	assert_string_equal(ev.service.name, "foo");
	assert_string_equal(ev.resource_version, "11624506");
	assert_int_equal(ev.service.type, KUBE_LOAD_BALANCER);
	assert_int_equal(ev.service.port_count, 5);
	/* LoadBalancer: the Service ports, not the nodePorts. */
	assert_int_equal(kube_service_bindings(&ev.service, b), 5);
	assert_int_equal(b[0].host_port, 80);
	assert_int_equal(b[0].target_port, 80);
	assert_int_equal(b[0].proto, PEV_TCP);
	assert_int_equal(b[4].host_port, 9991);

	line = nth_line(text, 3, &n);
	assert_int_equal(kube_event_parse(line, n, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
	assert_int_equal(ev.type, KUBE_MODIFIED);
	assert_int_equal(ev.service.port_count, 4);

	line = nth_line(text, 4, &n);
	assert_int_equal(kube_event_parse(line, n, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
	assert_int_equal(ev.type, KUBE_DELETED);
	assert_string_equal(ev.resource_version, "11624509");
	free(text);
}

static void loadbalancer_without_cluster_ip(void **state)
{
	struct kube_event ev;
	struct kube_binding b[KUBE_PORTS_MAX];
	const char *reason = NULL;
	size_t len;
	char *text = unit_read_file(FIXTURES "watch_event_loadbalancer_added_trimmed.json", &len);

	assert_int_equal(kube_event_parse(text, len, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
	assert_string_equal(ev.service.namespace, "argocd");
	assert_int_equal(kube_service_bindings(&ev.service, b), 2);
	assert_int_equal(b[0].host_port, 80);
	assert_int_equal(b[1].host_port, 443);
	free(text);
}

static void capitalized_envelope_rejected(void **state)
{
	struct kube_event ev;
	const char *reason = NULL;
	size_t len;
	char *text = unit_read_file(FIXTURES "watch_event_clusterip_dns_tcp_udp_capitalized_keys.json", &len);

	/* The API server writes "type"/"object"; "Type"/"Object" come only
	 * from re-marshalled Go structs, so they are not accepted. */
	assert_int_equal(kube_event_parse(text, len, tokens, KUBE_TOKENS_MAX, &ev, &reason), -1);
	assert_string_equal(reason, "the frame has no \"type\" string");
	free(text);
}

static void bookmark_of_another_kind(void **state)
{
	struct kube_event ev;
	const char *reason = NULL;
	size_t len;
	char *text = unit_read_file(FIXTURES "watch_bookmark_job_python_client_test.json", &len);

	assert_int_equal(kube_event_parse(text, len, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
	assert_int_equal(ev.type, KUBE_BOOKMARK);
	assert_string_equal(ev.resource_version, "1");
	free(text);
}

static void error_frames(void **state)
{
	static const struct { int code; const char *reason; int expired; } want[] = {
		{ 0, "", 0 }, { 410, "Gone", 1 }, { 410, "Expired", 1 }, { 410, "Expired", 1 },
	};
	struct kube_event ev;
	const char *reason = NULL;
	size_t len, n;
	char *text = unit_read_file(FIXTURES "watch_error_status_variants.ndjson", &len);

	for (int i = 0; i < 4; i++) {
		char *line = nth_line(text, i, &n);

		assert_int_equal(kube_event_parse(line, n, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
		assert_int_equal(ev.type, KUBE_ERROR);
		assert_int_equal(ev.status.code, want[i].code);
		assert_string_equal(ev.status.reason, want[i].reason);
		assert_int_equal(kube_status_expired(&ev.status), want[i].expired);
		assert_true(ev.status.message[0] != '\0');
	}
	free(text);
}

static int parse_service(const char *json, struct kube_service *svc, const char **reason)
{
	struct json j;

	assert_true(json_parse(&j, json, strlen(json), tokens, KUBE_TOKENS_MAX) > 0);
	return kube_service_parse(&j, 0, svc, reason);
}

static void port_rules(void **state)
{
	struct kube_service svc;
	struct kube_binding b[KUBE_PORTS_MAX];
	const char *reason = NULL;

	/* NodePort: each nodePort; TCP and UDP on one port; protocol default. */
	assert_int_equal(parse_service(
		"{\"metadata\":{\"name\":\"dns\",\"namespace\":\"kube-system\"},\"spec\":{\"type\":\"NodePort\","
		"\"ports\":[{\"protocol\":\"UDP\",\"port\":53,\"nodePort\":30053},"
		"{\"port\":53,\"nodePort\":30053},{\"protocol\":\"SCTP\",\"port\":9,\"nodePort\":30009},"
		"{\"protocol\":\"TCP\",\"port\":8080}]}}", &svc, &reason), 0);
	assert_int_equal(kube_service_bindings(&svc, b), 3);
	assert_int_equal(b[0].proto, PEV_TCP);
	assert_int_equal(b[0].host_port, 30053);
	assert_int_equal(b[0].target_port, 53);
	assert_int_equal(b[1].proto, PEV_UDP);
	assert_int_equal(b[2].proto, PEV_SCTP);

	/* ClusterIP (and a missing type) forward nothing. */
	assert_int_equal(parse_service(
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[{\"port\":80,\"nodePort\":30080}]}}",
		&svc, &reason), 0);
	assert_int_equal(svc.type, KUBE_CLUSTER_IP);
	assert_int_equal(kube_service_bindings(&svc, b), 0);

	/* ExternalName, no spec at all. */
	assert_int_equal(parse_service("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x\"}}",
				       &svc, &reason), 0);
	assert_int_equal(kube_service_bindings(&svc, b), 0);
	assert_int_equal(parse_service("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}", &svc, &reason), 0);
}

static void invalid_services(void **state)
{
	static const struct { const char *json, *reason; } cases[] = {
		{ "{\"spec\":{}}", "metadata is missing" },
		{ "{\"metadata\":{\"name\":\"a\"}}", "metadata.namespace is missing or too long" },
		{ "{\"metadata\":{\"namespace\":\"a\"}}", "metadata.name is missing or too long" },
		{ "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}", "the object is not a Service" },
		{ "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":{}}}", "spec.ports is not an array" },
		{ "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[{\"port\":0}]}}",
		  "spec.ports[].port is missing or not in 1-65535" },
		{ "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[{\"port\":\"80\"}]}}",
		  "spec.ports[].port is missing or not in 1-65535" },
		{ "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[{\"port\":80,\"nodePort\":70000}]}}",
		  "spec.ports[].nodePort is not in 0-65535" },
		{ "{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[{\"port\":80,\"protocol\":\"tcp\"}]}}",
		  "spec.ports[].protocol is not TCP, UDP or SCTP" },
	};
	struct kube_service svc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *reason = NULL;

		assert_int_equal(parse_service(cases[i].json, &svc, &reason), -1);
		assert_string_equal(reason, cases[i].reason);
	}
}

struct parts {
	int items, metadata, objects, too_large;
	char names[64][64];
};

static int collect(void *ctx, enum kube_split_part part, const char *text, size_t len, int too_large)
{
	struct parts *p = ctx;
	struct kube_service svc;
	struct json j;
	const char *reason;

	if (too_large) {
		p->too_large++;
		return 0;
	}
	if (part == KUBE_PART_METADATA) {
		p->metadata++;
		return 0;
	}
	if (part == KUBE_PART_OBJECT) {
		struct kube_event ev;

		assert_int_equal(kube_event_parse(text, len, tokens, KUBE_TOKENS_MAX, &ev, &reason), 0);
		snprintf(p->names[p->objects++ % 64], 64, "%.63s", ev.service.name);
		return 0;
	}
	assert_true(json_parse(&j, text, len, tokens, KUBE_TOKENS_MAX) > 0);
	assert_int_equal(kube_service_parse(&j, 0, &svc, &reason), 0);
	snprintf(p->names[p->items++ % 64], 64, "%.63s", svc.name);
	return 0;
}

static void split_list_every_piece_size(void **state)
{
	static char buf[8192];
	size_t len;
	char *text = unit_read_file(FIXTURES "servicelist_linkerd_gke2016.json", &len);
	struct kube_list_meta meta;
	const char *reason;

	for (size_t piece = 1; piece <= len; piece = piece < 64 ? piece + 1 : piece * 2) {
		struct kube_split s;
		struct parts p = { 0 };

		kube_split_init(&s, KUBE_SPLIT_LIST, buf, sizeof(buf));
		for (size_t off = 0; off < len; off += piece)
			assert_int_equal(kube_split_feed(&s, text + off, off + piece > len ? len - off : piece,
							 collect, &p), 0);
		assert_true(kube_split_idle(&s));
		assert_int_equal(p.items, 4);
		assert_int_equal(p.metadata, 1);
		assert_string_equal(p.names[0], "hello");
		assert_string_equal(p.names[3], "world-v2");
	}
	/* The metadata part as the applet reads it. */
	{
		const char *m = strstr(text, "\"metadata\": {") + 12;
		const char *e = strchr(m, '}') + 1;

		assert_int_equal(kube_list_meta_parse(m, (size_t)(e - m), tokens, KUBE_TOKENS_MAX, &meta, &reason), 0);
		assert_string_equal(meta.resource_version, "11600623");
		assert_string_equal(meta.continue_token, "");
	}
	free(text);
}

static void split_stream_without_newlines(void **state)
{
	static char buf[16384];
	size_t len;
	char *text = unit_read_file(FIXTURES "watch_services_linkerd_gke2016.ndjson", &len);
	struct kube_split s;
	struct parts p = { 0 };

	/* Frames back to back with no separator, and with extra whitespace. */
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			text[i] = (i % 2) ? ' ' : '\t';
	kube_split_init(&s, KUBE_SPLIT_STREAM, buf, sizeof(buf));
	for (size_t i = 0; i < len; i++)
		assert_int_equal(kube_split_feed(&s, text + i, 1, collect, &p), 0);
	assert_int_equal(p.objects, 5);
	assert_string_equal(p.names[0], "foo");
	assert_string_equal(p.names[4], "l5d");
	free(text);
}

static void split_oversized_and_invalid(void **state)
{
	static const char stream[] =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"}}}}\\\"{{\",\"namespace\":\"n\"}}}\n"
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"long-long-long-long-long-long\",\"namespace\":\"n\"}}}\n"
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\"}}}\n";
	char buf[90];
	struct kube_split s;
	struct parts p = { 0 };

	kube_split_init(&s, KUBE_SPLIT_STREAM, buf, sizeof(buf));
	assert_int_equal(kube_split_feed(&s, stream, strlen(stream), collect, &p), 0);
	assert_int_equal(p.objects, 2);
	assert_string_equal(p.names[0], "}}}}\"{{");
	assert_string_equal(p.names[1], "c");
	assert_int_equal(p.too_large, 1);

	kube_split_init(&s, KUBE_SPLIT_STREAM, buf, sizeof(buf));
	assert_int_equal(kube_split_feed(&s, "}", 1, collect, &p), -EINVAL);
	kube_split_init(&s, KUBE_SPLIT_LIST, buf, sizeof(buf));
	assert_int_equal(kube_split_feed(&s, "null", 4, collect, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linkerd_watch_stream),
		cmocka_unit_test(loadbalancer_without_cluster_ip),
		cmocka_unit_test(capitalized_envelope_rejected),
		cmocka_unit_test(bookmark_of_another_kind),
		cmocka_unit_test(error_frames),
		cmocka_unit_test(port_rules),
		cmocka_unit_test(invalid_services),
		cmocka_unit_test(split_list_every_piece_size),
		cmocka_unit_test(split_stream_without_newlines),
		cmocka_unit_test(split_oversized_and_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
