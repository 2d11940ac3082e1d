/* Protobuf reader and writer, containerd message decoding on bytes
 * recorded from containerd (tests/fixtures/ctr-watch/session, made by
 * capture.sh there), and gRPC message framing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "containerd.h"
#include "grpc.h"
#include "pb.h"

#define FIXTURES "tests/fixtures/ctr-watch/session/"

static uint8_t *load(const char *name, size_t *len)
{
	char path[256];

	snprintf(path, sizeof path, FIXTURES "%s", name);
	return unit_read_file(path, len);
}

static void parse_event_fixture(const char *name, struct ctrd_event *ev)
{
	size_t len;
	uint8_t *msg = load(name, &len);

	assert_int_equal(ctrd_parse_envelope(msg, len, ev), 0);
	free(msg);
}

static void test_varint_limits(void **state)
{
	struct pb_reader r;
	struct pb_field f;
	/* field 1 varint -1: ten bytes */
	static const uint8_t minus_one[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t eleven[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t tenth_too_big[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t truncated[] = { 0x08, 0xff };

	pb_reader_init(&r, minus_one, sizeof minus_one);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal((int64_t)f.value, -1);
	assert_int_equal(pb_next(&r, &f), 0);
	pb_reader_init(&r, eleven, sizeof eleven);
	assert_int_equal(pb_next(&r, &f), PB_ERR_VARINT);
	pb_reader_init(&r, tenth_too_big, sizeof tenth_too_big);
	assert_int_equal(pb_next(&r, &f), PB_ERR_VARINT);
	pb_reader_init(&r, truncated, sizeof truncated);
	assert_int_equal(pb_next(&r, &f), PB_ERR_TRUNCATED);
}

static void test_length_checks(void **state)
{
	struct pb_reader r;
	struct pb_field f;
	static const uint8_t too_long[] = { 0x0a, 0x05, 'a', 'b' };
	static const uint8_t huge[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a' };
	static const uint8_t fixed[] = { 0x0d, 1, 2, 3, 4, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x15, 1 };

	pb_reader_init(&r, too_long, sizeof too_long);
	assert_int_equal(pb_next(&r, &f), PB_ERR_TRUNCATED);
	pb_reader_init(&r, huge, sizeof huge);
	assert_int_equal(pb_next(&r, &f), PB_ERR_TRUNCATED);
	pb_reader_init(&r, fixed, sizeof fixed);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.wire, PB_I32);
	assert_int_equal(f.value, 0x04030201);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.wire, PB_I64);
	assert_int_equal(f.value, 0x0807060504030201ull);
	assert_int_equal(pb_next(&r, &f), PB_ERR_TRUNCATED);
}

static void test_wire_types(void **state)
{
	struct pb_reader r;
	struct pb_field f;
	/* group 2 { field 3 varint; group 4 {} } then field 5 varint 7 */
	static const uint8_t group[] = { 0x13, 0x18, 0x01, 0x23, 0x24, 0x14, 0x28, 0x07 };
	static const uint8_t unmatched[] = { 0x13, 0x1c };
	static const uint8_t stray_end[] = { 0x14 };
	static const uint8_t wire6[] = { 0x0e };
	static const uint8_t field0[] = { 0x00, 0x01 };

	pb_reader_init(&r, group, sizeof group);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.number, 5);
	assert_int_equal(f.value, 7);
	pb_reader_init(&r, unmatched, sizeof unmatched);
	assert_int_equal(pb_next(&r, &f), PB_ERR_WIRE);
	pb_reader_init(&r, stray_end, sizeof stray_end);
	assert_int_equal(pb_next(&r, &f), PB_ERR_WIRE);
	pb_reader_init(&r, wire6, sizeof wire6);
	assert_int_equal(pb_next(&r, &f), PB_ERR_WIRE);
	pb_reader_init(&r, field0, sizeof field0);
	assert_int_equal(pb_next(&r, &f), PB_ERR_FIELD);
}

static void test_group_nesting_limit(void **state)
{
	uint8_t deep[2 * (PB_MAX_GROUP_DEPTH + 1)];
	struct pb_reader r;
	struct pb_field f;

	for (int i = 0; i <= PB_MAX_GROUP_DEPTH; i++)
		deep[i] = 0x0b;   /* start group 1 */
	pb_reader_init(&r, deep, PB_MAX_GROUP_DEPTH + 1);
	assert_int_equal(pb_next(&r, &f), PB_ERR_NESTING);
}

static void test_writer(void **state)
{
	uint8_t buf[64];
	const char *filters[] = { "topic==\"/tasks/start\"", "namespace==\"a\"" };
	struct pb_reader r;
	struct pb_field f;
	char s[64];
	int n = ctrd_encode_subscribe(buf, sizeof buf, filters, 2);

	assert_true(n > 0);
	pb_reader_init(&r, buf, (size_t)n);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.number, 1);
	assert_int_equal(pb_field_string(&f, s, sizeof s), (int)strlen(filters[0]));
	assert_string_equal(s, filters[0]);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(pb_field_string(&f, s, sizeof s), (int)strlen(filters[1]));
	assert_int_equal(pb_next(&r, &f), 0);
	assert_int_equal(ctrd_encode_subscribe(buf, 10, filters, 2), PB_ERR_NOSPACE);
	n = ctrd_encode_get_container(buf, sizeof buf, "web1");
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "\x0a\x04web1", 6);
}

static void test_event_task_start(void **state)
{
	struct ctrd_event ev;

	parse_event_fixture("stream-1-1.pb", &ev);
	assert_int_equal(ev.kind, CTRD_EV_TASK_START);
	assert_string_equal(ev.namespace, "ctrwatch-capture");
	assert_string_equal(ev.topic, "/tasks/start");
	assert_string_equal(ev.container_id, "web2");
	assert_true(ev.pid > 0);
}

static void test_event_exec_exit(void **state)
{
	struct ctrd_event ev;

	parse_event_fixture("stream-1-2.pb", &ev);
	assert_int_equal(ev.kind, CTRD_EV_TASK_EXIT);
	assert_string_equal(ev.container_id, "web2");
	assert_string_equal(ev.exec_id, "probe");
}

static void test_event_container_update(void **state)
{
	struct ctrd_event ev;

	parse_event_fixture("stream-1-3.pb", &ev);
	assert_int_equal(ev.kind, CTRD_EV_CONTAINER_UPDATE);
	assert_string_equal(ev.topic, "/containers/update");
	assert_string_equal(ev.container_id, "web2");
}

static void test_event_init_exit(void **state)
{
	struct ctrd_event ev;

	parse_event_fixture("stream-1-4.pb", &ev);
	assert_int_equal(ev.kind, CTRD_EV_TASK_EXIT);
	assert_string_equal(ev.container_id, "web2");
	assert_string_equal(ev.exec_id, "web2");
}

static void test_event_task_delete(void **state)
{
	struct ctrd_event ev;

	parse_event_fixture("stream-1-5.pb", &ev);
	assert_int_equal(ev.kind, CTRD_EV_TASK_DELETE);
	assert_string_equal(ev.container_id, "web2");
	assert_string_equal(ev.exec_id, "");
	assert_true(ev.pid > 0);
}

static void test_event_container_delete(void **state)
{
	struct ctrd_event ev;

	parse_event_fixture("stream-1-6.pb", &ev);
	assert_int_equal(ev.kind, CTRD_EV_CONTAINER_DELETE);
	assert_string_equal(ev.container_id, "web2");
}

static int count_name(void *ctx, const char *name)
{
	assert_string_equal(name, "ctrwatch-capture");
	(*(int *)ctx)++;
	return 0;
}

static void test_namespaces_list(void **state)
{
	size_t len;
	uint8_t *msg = load("stream-3-1.pb", &len);
	int n = 0;

	assert_int_equal(ctrd_parse_namespaces(msg, len, count_name, &n), 0);
	assert_int_equal(n, 1);
	free(msg);
}

static int check_task(void *ctx, const char *container_id, uint32_t pid, int status)
{
	/* containerd 1.6 leaves container_id empty and names it in id. */
	assert_string_equal(container_id, "web1");
	assert_int_equal(status, CTRD_STATUS_RUNNING);
	assert_true(pid > 0);
	(*(int *)ctx)++;
	return 0;
}

static void test_tasks_list(void **state)
{
	size_t len;
	uint8_t *msg = load("stream-5-1.pb", &len);
	int n = 0;

	assert_int_equal(ctrd_parse_tasks(msg, len, check_task, &n), 0);
	assert_int_equal(n, 1);
	free(msg);
}

/* A running task's exited_at is the zero time, year 1: seconds
 * -62135596800, a negative int64 encoded as a 10-byte varint. */
static void test_tasks_exited_at_year_one(void **state)
{
	size_t len;
	uint8_t *msg = load("stream-5-1.pb", &len);
	struct pb_reader r, p, ts;
	struct pb_field f, g, h;
	int found = 0;

	pb_reader_init(&r, msg, len);
	assert_int_equal(pb_next(&r, &f), 1);
	pb_reader_init(&p, f.data, f.len);
	while (pb_next(&p, &g) > 0) {
		if (g.number != 10)
			continue;
		pb_reader_init(&ts, g.data, g.len);
		assert_int_equal(pb_next(&ts, &h), 1);
		assert_int_equal(h.number, 1);
		assert_int_equal((int64_t)h.value, -62135596800ll);
		assert_int_equal(ts.p - g.data, 11);   /* tag + 10-byte varint */
		found = 1;
	}
	assert_true(found);
	free(msg);
}

static void test_get_container(void **state)
{
	size_t len;
	uint8_t *msg = load("stream-7-1.pb", &len);
	struct ctrd_container c;

	assert_int_equal(ctrd_parse_get_container(msg, len, &c), 0);
	assert_string_equal(c.id, "web1");
	assert_non_null(c.ports);
	assert_int_equal(c.ports_len, strlen("[{\"HostPort\":8080,\"ContainerPort\":80,\"Protocol\":\"tcp\",\"HostIP\":\"0.0.0.0\"}]"));
	assert_memory_equal(c.ports, "[{\"HostPort\":8080", 17);
	assert_null(c.state_dir);
	free(msg);
}

/* Every truncation of every recorded message fails cleanly. */
static void test_truncated_fixtures(void **state)
{
	static const char *const names[] = {
		"stream-1-1.pb", "stream-1-2.pb", "stream-1-3.pb", "stream-1-4.pb",
		"stream-1-5.pb", "stream-1-6.pb", "stream-7-1.pb",
	};

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		size_t len;
		uint8_t *msg = load(names[i], &len);

		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *copy = malloc(cut + 1);
			struct ctrd_event ev;
			struct ctrd_container c;

			memcpy(copy, msg, cut);
			if (i < 6)
				ctrd_parse_envelope(copy, cut, &ev);
			else
				ctrd_parse_get_container(copy, cut, &c);
			free(copy);
		}
		free(msg);
	}
}

static int count_messages(void *ctx, const uint8_t *msg, size_t len)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_grpc_framing(void **state)
{
	uint8_t buf[16], out[64];
	struct grpc_reader r;
	int n = 0;
	int len = grpc_frame(out, sizeof out, "abc", 3);

	assert_int_equal(len, 8);
	len += grpc_frame(out + len, sizeof out - (size_t)len, "", 0);
	grpc_reader_init(&r, buf, sizeof buf);
	for (int i = 0; i < len; i++)
		assert_int_equal(grpc_reader_feed(&r, out + i, 1, count_messages, &n), 0);
	assert_int_equal(n, 2);
	assert_true(grpc_reader_idle(&r));

	static const uint8_t big[] = { 0, 0, 0, 0, 17 };
	static const uint8_t compressed[] = { 1, 0, 0, 0, 1, 'x' };

	grpc_reader_init(&r, buf, sizeof buf);
	assert_int_equal(grpc_reader_feed(&r, big, 5, count_messages, &n), GRPC_ERR_TOOBIG);
	grpc_reader_init(&r, buf, sizeof buf);
	assert_int_equal(grpc_reader_feed(&r, compressed, 6, count_messages, &n), GRPC_ERR_COMPRESSED);
}

static void test_grpc_status(void **state)
{
	char out[64];

	assert_int_equal(grpc_parse_status("0", 1), 0);
	assert_int_equal(grpc_parse_status("14", 2), 14);
	assert_int_equal(grpc_parse_status("", 0), -1);
	assert_int_equal(grpc_parse_status("1x", 2), -1);
	grpc_percent_decode("not%20found%3a x%zz%4", 21, out, sizeof out);
	assert_string_equal(out, "not found: x%zz%4");
	grpc_percent_decode("abcdef", 6, out, 4);
	assert_string_equal(out, "abc");
	assert_string_equal(grpc_status_name(5), "NOT_FOUND");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_limits),
		cmocka_unit_test(test_length_checks),
		cmocka_unit_test(test_wire_types),
		cmocka_unit_test(test_group_nesting_limit),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_event_task_start),
		cmocka_unit_test(test_event_exec_exit),
		cmocka_unit_test(test_event_container_update),
		cmocka_unit_test(test_event_init_exit),
		cmocka_unit_test(test_event_task_delete),
		cmocka_unit_test(test_event_container_delete),
		cmocka_unit_test(test_namespaces_list),
		cmocka_unit_test(test_tasks_list),
		cmocka_unit_test(test_tasks_exited_at_year_one),
		cmocka_unit_test(test_get_container),
		cmocka_unit_test(test_truncated_fixtures),
		cmocka_unit_test(test_grpc_framing),
		cmocka_unit_test(test_grpc_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
