/* Unit tests for lib/docker against responses recorded from a real dockerd
 * (tests/fixtures/docker-watch, see capture.sh there), read through
 * lib/http as docker-watch reads them. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"
#include "http.h"

#define FIXTURES "tests/fixtures/docker-watch/"
#define TOKENS 4096

static jsmntok_t tokens[TOKENS];

struct body {
	char *data;
	size_t len, cap;
	char api_version[16];
};

static int on_body(void *ctx, const char *data, size_t len)
{
	struct body *b = ctx;

	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->data = realloc(b->data, b->cap);
		assert_non_null(b->data);
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static int on_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct body *b = ctx;

	if (http_name_is(name, nlen, "api-version") && vlen < sizeof b->api_version) {
		memcpy(b->api_version, value, vlen);
		b->api_version[vlen] = '\0';
	}
	return 0;
}

static const struct http_callbacks body_callbacks = { .header = on_header, .body = on_body };

/* Reads a recorded response through the HTTP parser, step bytes at a time;
 * returns its status and fills b with the decoded body.  A stream cut off
 * by the recording (events.http) ends without the last chunk. */
static int load_response(const char *name, size_t step, struct body *b, int complete)
{
	char path[256];
	size_t len, pos = 0;
	char *raw;
	struct http_parser *p = malloc(sizeof *p);
	int r = 0, status;

	assert_non_null(p);
	snprintf(path, sizeof path, FIXTURES "%s", name);
	raw = unit_read_file(path, &len);
	memset(b, 0, sizeof *b);
	http_parser_init(p, 0, &body_callbacks, b);
	while (pos < len && r == 0) {
		size_t n = len - pos < step ? len - pos : step;

		r = http_parser_feed(p, raw + pos, n, NULL);
		pos += n;
	}
	if (r == 0)
		r = http_parser_finish(p);
	if (complete)
		assert_int_equal(r, 1);
	else
		assert_int_equal(r, HTTP_ERROR_TRUNCATED);
	status = p->status;
	if (!b->data)
		on_body(b, "", 0);
	free(raw);
	free(p);
	return status;
}

/* The recorded scenario's events that docker-watch acts on, in order, as
 * "ACTION ID12". */
static const char expected_actions[] =
	"start e855939c21d6\nstart 9539cb5c7ef3\nstart 485b4f2b4f4d\nkill 9539cb5c7ef3\n"
	"start d0224e401747\ndie d0224e401747\nstart d0224e401747\ndie d0224e401747\n"
	"start d0224e401747\nkill e855939c21d6\ndie d0224e401747\nkill e855939c21d6\n"
	"die e855939c21d6\nstart d0224e401747\nstop e855939c21d6\nkill d0224e401747\n"
	"die d0224e401747\nstop d0224e401747\nkill 9539cb5c7ef3\ndie 9539cb5c7ef3\n"
	"kill 485b4f2b4f4d\ndie 485b4f2b4f4d\ndestroy 485b4f2b4f4d\n";

struct event_log {
	char text[4096];
	size_t len;
	unsigned records, other;
	char other_seen[2048];
};

static const char *action_name(enum docker_action a)
{
	switch (a) {
	case DOCKER_ACTION_START: return "start";
	case DOCKER_ACTION_RESTART: return "restart";
	case DOCKER_ACTION_DIE: return "die";
	case DOCKER_ACTION_STOP: return "stop";
	case DOCKER_ACTION_KILL: return "kill";
	case DOCKER_ACTION_DESTROY: return "destroy";
	case DOCKER_ACTION_NETWORK: return "network";
	case DOCKER_ACTION_OTHER: break;
	}
	return "other";
}

static int on_record(void *ctx, const char *record, size_t len)
{
	struct event_log *log = ctx;
	struct docker_event ev;
	int json_error = 0;

	log->records++;
	assert_int_equal(docker_event_parse(record, len, tokens, TOKENS, &ev, &json_error), 0);
	assert_true(ev.is_container);
	assert_int_equal(strlen(ev.id), DOCKER_ID_LEN);
	assert_true(ev.time_nano > 1000000000LL * 1000000000LL);
	if (ev.action == DOCKER_ACTION_OTHER) {
		log->other++;
		if (strlen(log->other_seen) + strlen(ev.action_text) + 2 < sizeof log->other_seen) {
			strcat(log->other_seen, ev.action_text);
			strcat(log->other_seen, "|");
		}
		return 0;
	}
	log->len += (size_t)snprintf(log->text + log->len, sizeof log->text - log->len, "%s %.12s\n",
				     action_name(ev.action), ev.id);
	return 0;
}

static void check_event_log(const struct event_log *log)
{
	assert_int_equal(log->records, 50);
	assert_string_equal(log->text, expected_actions);
	/* Actions with spaces and colons are read whole and ignored. */
	assert_non_null(strstr(log->other_seen, "|exec_start: sh -c echo hello|"));
	assert_non_null(strstr(log->other_seen, "|health_status: healthy|"));
	assert_non_null(strstr(log->other_seen, "|pause|unpause|rename|"));
}

static void feed_records(const char *data, size_t len, size_t step, struct event_log *log)
{
	struct docker_records *r = malloc(sizeof *r);

	assert_non_null(r);
	docker_records_init(r);
	memset(log, 0, sizeof *log);
	strcpy(log->other_seen, "|");
	for (size_t pos = 0; pos < len; pos += step) {
		size_t n = len - pos < step ? len - pos : step;

		assert_int_equal(docker_records_feed(r, data + pos, n, on_record, log), 0);
	}
	free(r);
}

static void test_events_recorded_stream(void **state)
{
	static const size_t steps[] = { 1, 7, 100, 4096, 1 << 20 };
	struct event_log *log = malloc(sizeof *log);

	assert_non_null(log);
	for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
		struct body b;

		assert_int_equal(load_response("events.http", steps[s], &b, 0), 200);
		assert_string_equal(b.api_version, "1.41");
		feed_records(b.data, b.len, steps[s], log);
		check_event_log(log);
		free(b.data);
	}
	free(log);
}

static void test_events_v152_json_seq(void **state)
{
	size_t len;
	char *data = unit_read_file(FIXTURES "events-v1.52-shape.jsonseq", &len);
	struct event_log *log = malloc(sizeof *log);

	assert_non_null(log);
	assert_null(strstr(data, "\"status\""));
	assert_non_null(memchr(data, 0x1e, len));
	feed_records(data, len, 1, log);
	check_event_log(log);
	feed_records(data, len, len, log);
	check_event_log(log);
	free(log);
	free(data);
}

static void test_events_legacy_shape(void **state)
{
	size_t len;
	char *data = unit_read_file(FIXTURES "events-legacy-shape.ndjson", &len);
	struct event_log *log = malloc(sizeof *log);

	assert_non_null(log);
	assert_null(strstr(data, "\"Action\""));
	feed_records(data, len, 3, log);
	check_event_log(log);
	free(log);
	free(data);
}

static void test_event_not_container(void **state)
{
	static const char net[] =
		"{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"2c9b874de40f25493a64cca8"
		"21c37a887af449b95dc96858c097e574e98cb64d\",\"Attributes\":{}},\"time\":1}";
	struct docker_event ev;

	assert_int_equal(docker_event_parse(net, sizeof net - 1, tokens, TOKENS, &ev, NULL), 0);
	assert_false(ev.is_container);
	assert_int_equal(ev.time_nano, 1000000000);
	/* No container attribute: nothing to inspect. */
	assert_true(ev.is_network);
	assert_string_equal(ev.id, "");
}

/* A network disconnect names the container in Actor.Attributes.container
 * (Actor.ID is the network); shape as dockerd 20.10 sends it. */
static void test_event_network_disconnect(void **state)
{
	static const char net[] =
		"{\"Type\":\"network\",\"Action\":\"disconnect\",\"Actor\":{\"ID\":\"2c9b874de40f25493a64cca8"
		"21c37a887af449b95dc96858c097e574e98cb64d\",\"Attributes\":{\"container\":\"3417fc2aebab"
		"5c2f2b6e3b2a1d0c9f8e7d6c5b4a39281706f5e4d3c2b1a09f80\",\"name\":\"bridge\",\"type\":\"bridge\"}},"
		"\"scope\":\"local\",\"time\":1,\"timeNano\":1000000001}";
	static const char other[] =
		"{\"Type\":\"network\",\"Action\":\"create\",\"Actor\":{\"ID\":\"2c9b874de40f25493a64cca8"
		"21c37a887af449b95dc96858c097e574e98cb64d\",\"Attributes\":{\"name\":\"n1\"}},\"time\":1}";
	struct docker_event ev;

	(void)state;
	assert_int_equal(docker_event_parse(net, sizeof net - 1, tokens, TOKENS, &ev, NULL), 0);
	assert_true(ev.is_network);
	assert_false(ev.is_container);
	assert_int_equal(ev.action, DOCKER_ACTION_NETWORK);
	assert_string_equal(ev.id, "3417fc2aebab5c2f2b6e3b2a1d0c9f8e7d6c5b4a39281706f5e4d3c2b1a09f80");
	assert_int_equal(docker_event_parse(other, sizeof other - 1, tokens, TOKENS, &ev, NULL), 0);
	assert_int_equal(ev.action, DOCKER_ACTION_OTHER);
}

static void test_event_malformed(void **state)
{
	static const char *const bad_json[] = {
		"{\"Type\":\"container\",", "not json", "{\"a\":1}{\"b\":2}",
	};
	struct docker_event ev;
	int json_error;

	for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
		json_error = 0;
		assert_int_equal(docker_event_parse(bad_json[i], strlen(bad_json[i]), tokens, TOKENS,
						    &ev, &json_error), DOCKER_ERROR_JSON);
		assert_true(json_error < 0);
	}
	assert_int_equal(docker_event_parse("[1]", 3, tokens, TOKENS, &ev, NULL), DOCKER_ERROR_SHAPE);
	assert_int_equal(docker_event_parse("{\"Type\":\"container\"}", 20, tokens, TOKENS, &ev, NULL),
			 DOCKER_ERROR_SHAPE);
	/* Over the token budget. */
	json_error = 0;
	assert_int_equal(docker_event_parse("{\"a\":[1,2,3,4,5,6]}", 19, tokens, 4, &ev, &json_error),
			 DOCKER_ERROR_JSON);
	assert_int_equal(json_error, JSON_ERROR_NOMEM);
	/* A short ID is not a full container ID. */
	assert_int_equal(docker_event_parse("{\"status\":\"start\",\"id\":\"5745704abe9caa5\"}", 41,
					    tokens, TOKENS, &ev, NULL), 0);
	assert_int_equal(ev.action, DOCKER_ACTION_START);
	assert_string_equal(ev.id, "");
}

static int count_record(void *ctx, const char *record, size_t len)
{
	(*(unsigned *)ctx)++;
	return 0;
}

static void test_records_too_long(void **state)
{
	struct docker_records *r = malloc(sizeof *r);
	size_t big = DOCKER_RECORD_MAX + 10;
	char *data = malloc(big + 16);
	unsigned count = 0;

	assert_non_null(r);
	assert_non_null(data);
	memset(data, 'x', big);
	memcpy(data + big, "\n{}\n\x1e{}\n \n", 10);
	docker_records_init(r);
	assert_int_equal(docker_records_feed(r, data, big + 10, count_record, &count),
			 DOCKER_ERROR_RECORD_TOO_LONG);
	/* The over-long record is dropped; the two after it and only they count. */
	assert_int_equal(count, 2);
	free(data);
	free(r);
}

struct ports {
	char text[2048];
	size_t len;
	unsigned invalid;
};

static int on_port(void *ctx, const struct docker_port *port, const char *key, const char *reason)
{
	struct ports *p = ctx;
	char ip[64];

	if (!port) {
		p->invalid++;
		p->len += (size_t)snprintf(p->text + p->len, sizeof p->text - p->len,
					   "invalid %s: %s\n", key, reason);
		return 0;
	}
	pev_addr_format(&port->host_ip, ip, sizeof ip);
	p->len += (size_t)snprintf(p->text + p->len, sizeof p->text - p->len, "%s %s %u %u\n",
				   pev_proto_name(port->proto), ip, port->host_port, port->container_port);
	return 0;
}

static void inspect(const char *name, struct docker_container *c, struct ports *p)
{
	struct body b;
	int json_error = 0;

	assert_int_equal(load_response(name, 64, &b, 1), 200);
	memset(p, 0, sizeof *p);
	assert_int_equal(docker_inspect_parse(b.data, b.len, tokens, TOKENS, c, on_port, p, &json_error), 0);
	free(b.data);
}

static void test_inspect_published(void **state)
{
	struct docker_container c;
	struct ports p;
	char ip[64];

	inspect("inspect-published.http", &c, &p);
	assert_string_equal(c.id, "e855939c21d639bd398a18193b985225012983079e5eab4e1db56231a2078ff4");
	assert_true(c.running);
	assert_string_equal(pev_addr_format(&c.ip, ip, sizeof ip), "172.17.0.2");
	assert_int_equal(c.ports, 13);
	assert_int_equal(c.invalid, 0);
	/* -p 5353:53/udp, 7000-7002, 8080:80, 127.0.0.1:9090:80, and -P's
	 * allocated 32768 for the exposed 81, each on 0.0.0.0 and ::. */
	assert_string_equal(p.text,
			    "udp 0.0.0.0 5353 53\n"
			    "udp :: 5353 53\n"
			    "tcp 0.0.0.0 7000 7000\n"
			    "tcp :: 7000 7000\n"
			    "tcp 0.0.0.0 7001 7001\n"
			    "tcp :: 7001 7001\n"
			    "tcp 0.0.0.0 7002 7002\n"
			    "tcp :: 7002 7002\n"
			    "tcp 127.0.0.1 9090 80\n"
			    "tcp 0.0.0.0 8080 80\n"
			    "tcp :: 8080 80\n"
			    "tcp 0.0.0.0 32768 81\n"
			    "tcp :: 32768 81\n");
}

static void test_inspect_ipv6(void **state)
{
	struct docker_container c;
	struct ports p;

	char ip[64];

	inspect("inspect-ipv6.http", &c, &p);
	assert_true(c.running);
	assert_string_equal(pev_addr_format(&c.ip, ip, sizeof ip), "172.17.0.3");
	assert_string_equal(pev_addr_format(&c.ip6, ip, sizeof ip), "fd00:d0c:1::242:ac11:3");
	assert_string_equal(p.text, "tcp 0.0.0.0 8081 80\ntcp :: 8081 80\ntcp ::1 9091 80\n");
}

static void test_inspect_exposed_only(void **state)
{
	struct docker_container c;
	struct ports p;

	inspect("inspect-exposed.http", &c, &p);
	assert_true(c.running);
	assert_int_equal(c.ports, 0);
	assert_string_equal(p.text, "");
}

static void test_inspect_stopped(void **state)
{
	struct docker_container c;
	struct ports p;

	inspect("inspect-stopped.http", &c, &p);
	assert_false(c.running);
	assert_int_equal(c.ports, 0);
	assert_int_equal(c.ip.family, 0);
	assert_int_equal(c.ip6.family, 0);
}

static void test_inspect_restart_policy(void **state)
{
	struct docker_container c;
	struct ports p;

	inspect("inspect-restarting.http", &c, &p);
	assert_true(c.running);
	assert_string_equal(p.text, "tcp 0.0.0.0 6000 80\ntcp :: 6000 80\n");
}

/* A container in its restart backoff: the daemon reports Running and
 * Restarting both true (moby container/state.go, SetRestarting).  The
 * recorded looper is edited to that state, with the same length. */
static void test_inspect_restart_backoff(void **state)
{
	struct docker_container c;
	struct ports p;
	struct body b;
	char *flag;

	assert_int_equal(load_response("inspect-restarting.http", 4096, &b, 1), 200);
	flag = strstr(b.data, "\"Restarting\":false");
	assert_non_null(flag);
	memcpy(flag, "\"Restarting\":true ", 18);
	memset(&p, 0, sizeof p);
	assert_int_equal(docker_inspect_parse(b.data, b.len, tokens, TOKENS, &c, on_port, &p, NULL), 0);
	assert_false(c.running);
	free(b.data);
}

static void test_inspect_missing(void **state)
{
	struct body b;
	char message[256];

	assert_int_equal(load_response("inspect-missing.http", 5, &b, 1), 404);
	docker_error_message(b.data, b.len, tokens, TOKENS, message, sizeof message);
	assert_string_equal(message, "No such container: "
				     "485b4f2b4f4dcb565ed77902bf949c946a930570903f5661c909fbb5552c591b");
	free(b.data);
}

static void test_inspect_invalid_entries(void **state)
{
	static const char doc[] =
		"{\"Id\":\"e855939c21d639bd398a18193b985225012983079e5eab4e1db56231a2078ff4\","
		"\"State\":{\"Running\":true,\"Restarting\":false},"
		"\"NetworkSettings\":{\"IPAddress\":\"\",\"Networks\":{\"a\":{\"IPAddress\":\"\"},"
		"\"b\":{\"IPAddress\":\"10.1.2.3\"}},\"Ports\":{"
		"\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"},{\"HostIp\":\"1.2.3\",\"HostPort\":\"1\"}],"
		"\"81/tcp\":[{\"HostIp\":\"::\",\"HostPort\":\"0\"},{\"HostPort\":\"99999\"},7],"
		"\"x/tcp\":[],\"82/icmp\":[],\"83/sctp\":[{\"HostIp\":\"::\",\"HostPort\":\"83\"}],"
		"\"84/tcp\":{},\"85/udp\":[]}}}";
	struct docker_container c;
	struct ports p;
	char ip[64];

	memset(&p, 0, sizeof p);
	assert_int_equal(docker_inspect_parse(doc, sizeof doc - 1, tokens, TOKENS, &c, on_port, &p, NULL), 0);
	assert_string_equal(pev_addr_format(&c.ip, ip, sizeof ip), "10.1.2.3");
	assert_int_equal(c.ip6.family, 0);
	assert_int_equal(c.ports, 2);
	assert_int_equal(c.invalid, 7);
	assert_string_equal(p.text,
			    "tcp 0.0.0.0 8080 80\n"
			    "invalid 80/tcp: invalid HostIp\n"
			    "invalid 81/tcp: invalid or missing HostPort\n"
			    "invalid 81/tcp: invalid or missing HostPort\n"
			    "invalid 81/tcp: binding is not an object\n"
			    "invalid x/tcp: port key is not PORT/PROTO\n"
			    "invalid 82/icmp: port key is not PORT/PROTO\n"
			    "sctp :: 83 83\n"
			    "invalid 84/tcp: bindings are not an array\n");
}

static void test_inspect_truncated_reports_nothing(void **state)
{
	struct body b;
	struct docker_container c;
	struct ports p;
	int json_error = 0;

	assert_int_equal(load_response("inspect-published.http", 4096, &b, 1), 200);
	memset(&p, 0, sizeof p);
	/* Cut inside the Ports map: no port may come out of it. */
	assert_int_equal(docker_inspect_parse(b.data, (size_t)(strstr(b.data, "\"7001/tcp\"") - b.data),
					      tokens, TOKENS, &c, on_port, &p, &json_error),
			 DOCKER_ERROR_JSON);
	assert_int_equal(json_error, JSON_ERROR_PARTIAL);
	assert_string_equal(p.text, "");
	/* Over the token budget. */
	assert_int_equal(docker_inspect_parse(b.data, b.len, tokens, 100, &c, on_port, &p, &json_error),
			 DOCKER_ERROR_JSON);
	assert_int_equal(json_error, JSON_ERROR_NOMEM);
	assert_string_equal(p.text, "");
	free(b.data);
}

struct ids {
	char text[1024];
	unsigned count;
};

static int on_id(void *ctx, const char *id)
{
	struct ids *ids = ctx;

	ids->count++;
	strncat(ids->text, id, 12);
	strcat(ids->text, " ");
	return 0;
}

static void test_container_list(void **state)
{
	struct body b;
	struct ids ids;

	memset(&ids, 0, sizeof ids);
	assert_int_equal(load_response("containers-json.http", 33, &b, 1), 200);
	assert_int_equal(docker_list_parse(b.data, b.len, tokens, TOKENS, on_id, &ids, NULL), 0);
	assert_int_equal(ids.count, 4);
	assert_string_equal(ids.text, "d0224e401747 485b4f2b4f4d 9539cb5c7ef3 e855939c21d6 ");
	assert_int_equal(docker_list_parse("[]", 2, tokens, TOKENS, on_id, &ids, NULL), 0);
	assert_int_equal(docker_list_parse("[{\"Id\":\"abc\"}]", 14, tokens, TOKENS, on_id, &ids, NULL),
			 DOCKER_ERROR_SHAPE);
	assert_int_equal(docker_list_parse("{}", 2, tokens, TOKENS, on_id, &ids, NULL), DOCKER_ERROR_SHAPE);
	free(b.data);
}

static void test_ping_api_version(void **state)
{
	struct body b;
	unsigned minor = 0;

	assert_int_equal(load_response("ping.http", 1, &b, 1), 200);
	assert_string_equal(b.data, "OK");
	assert_int_equal(docker_api_version_parse(b.api_version, strlen(b.api_version), &minor), 0);
	assert_int_equal(minor, 41);
	free(b.data);
	assert_int_equal(docker_api_version_parse("1.52", 4, &minor), 0);
	assert_int_equal(minor, 52);
	assert_int_equal(docker_api_version_parse("2.0", 3, &minor), -1);
	assert_int_equal(docker_api_version_parse("1.", 2, &minor), -1);
	assert_int_equal(docker_api_version_parse("1.4x", 4, &minor), -1);
}

static void test_version_response(void **state)
{
	struct body b;

	assert_int_equal(load_response("version.http", 10, &b, 1), 200);
	assert_non_null(strstr(b.data, "\"ApiVersion\":\"1.41\""));
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_recorded_stream),
		cmocka_unit_test(test_events_v152_json_seq),
		cmocka_unit_test(test_events_legacy_shape),
		cmocka_unit_test(test_event_not_container),
		cmocka_unit_test(test_event_network_disconnect),
		cmocka_unit_test(test_event_malformed),
		cmocka_unit_test(test_records_too_long),
		cmocka_unit_test(test_inspect_published),
		cmocka_unit_test(test_inspect_ipv6),
		cmocka_unit_test(test_inspect_exposed_only),
		cmocka_unit_test(test_inspect_stopped),
		cmocka_unit_test(test_inspect_restart_policy),
		cmocka_unit_test(test_inspect_restart_backoff),
		cmocka_unit_test(test_inspect_missing),
		cmocka_unit_test(test_inspect_invalid_entries),
		cmocka_unit_test(test_inspect_truncated_reports_nothing),
		cmocka_unit_test(test_container_list),
		cmocka_unit_test(test_ping_api_version),
		cmocka_unit_test(test_version_response),
	};

	return cmocka_run_group_tests_name("docker", tests, NULL, NULL);
}
