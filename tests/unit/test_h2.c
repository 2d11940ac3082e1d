/* HTTP/2 client: the server side of a session recorded from containerd
 * (tests/fixtures/ctr-watch/session, see capture.sh there) fed at every
 * split point, and synthetic frames for the error paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "grpc.h"
#include "h2.h"

#define FIXTURES "tests/fixtures/ctr-watch/session/"

static struct h2_conn conn;

/* A textual log of events, to compare runs. */
struct log {
	char *text;
	size_t len, cap;
	int resets, goaways, ends;
	uint32_t last_error;
	uint8_t body[8][65536];
	size_t body_len[8];
};

static struct log logs[2];

static void append(struct log *l, const char *s)
{
	size_t n = strlen(s);

	if (l->len + n + 1 > l->cap) {
		l->cap = (l->len + n + 1) * 2;
		l->text = realloc(l->text, l->cap);
		assert_non_null(l->text);
	}
	memcpy(l->text + l->len, s, n + 1);
	l->len += n;
}

static int record(void *ctx, const struct h2_event *ev)
{
	struct log *l = ctx;
	char line[512];

	switch (ev->type) {
	case H2_EV_HEADER:
		snprintf(line, sizeof line, "%u %s %.*s: %.*s\n", ev->stream, ev->trailers ? "T" : "H",
			 (int)ev->name_len, ev->name, (int)ev->value_len, ev->value);
		break;
	case H2_EV_HEADERS_DONE:
		snprintf(line, sizeof line, "%u headers done\n", ev->stream);
		break;
	case H2_EV_DATA:
		snprintf(line, sizeof line, "%u data %zu\n", ev->stream, ev->len);
		if (ev->stream / 2 < 8 && l->body_len[ev->stream / 2] + ev->len <= sizeof l->body[0]) {
			memcpy(l->body[ev->stream / 2] + l->body_len[ev->stream / 2], ev->data, ev->len);
			l->body_len[ev->stream / 2] += ev->len;
		}
		break;
	case H2_EV_END_STREAM:
		l->ends++;
		snprintf(line, sizeof line, "%u end\n", ev->stream);
		break;
	case H2_EV_RESET:
		l->resets++;
		l->last_error = ev->error_code;
		snprintf(line, sizeof line, "%u reset %u\n", ev->stream, ev->error_code);
		break;
	case H2_EV_GOAWAY:
		l->goaways++;
		l->last_error = ev->error_code;
		snprintf(line, sizeof line, "goaway %u %u\n", ev->last_stream, ev->error_code);
		break;
	}
	append(l, line);
	return 0;
}

static void reset_log(struct log *l)
{
	free(l->text);
	memset(l, 0, sizeof *l);
}

/* Opens the six streams ctr-watch opened in the recorded session. */
static void open_streams(void)
{
	static const struct h2_header headers[] = { { "content-type", "application/grpc" }, { "te", "trailers" } };

	h2_init(&conn);
	for (int i = 0; i < 6; i++)
		assert_int_equal(h2_request(&conn, "localhost", "/x", headers, 2, "\0\0\0\0\0", 5), 1 + 2 * i);
	conn.out_len = 0;
}

static int session(void **state)
{
	return 0;
}

static void test_session_whole(void **state)
{
	size_t len;
	uint8_t *data = unit_read_file(FIXTURES "server.h2", &len);
	struct log *l = &logs[0];

	reset_log(l);
	open_streams();
	assert_int_equal(h2_feed(&conn, data, len, record, l), 0);
	/* Every unary call ended with status 0 in its trailers. */
	assert_non_null(strstr(l->text, "3 H :status: 200\n"));
	assert_non_null(strstr(l->text, "3 T grpc-status: 0\n"));
	assert_non_null(strstr(l->text, "1 H content-type: application/grpc\n"));
	assert_int_equal(l->ends, 5);   /* all but the subscription */
	assert_int_equal(l->resets, 0);
	/* The client acknowledged the server's SETTINGS. */
	static const uint8_t ack[] = { 0, 0, 0, H2_SETTINGS, 1, 0, 0, 0, 0 };
	int found = 0;

	for (size_t i = 0; i + sizeof ack <= conn.out_len; i++)
		found |= !memcmp(conn.out + i, ack, sizeof ack);
	assert_true(found);
	free(data);
}

static int check_message(void *ctx, const uint8_t *msg, size_t len)
{
	int *n = ctx;
	char path[128];
	size_t want_len;
	uint8_t *want;

	(*n)++;
	snprintf(path, sizeof path, FIXTURES "stream-1-%d.pb", *n);
	want = unit_read_file(path, &want_len);
	assert_int_equal(len, want_len);
	assert_memory_equal(msg, want, len);
	free(want);
	return 0;
}

/* The subscription's body splits into the recorded Envelope messages. */
static void test_session_messages(void **state)
{
	static uint8_t buf[1 << 16];
	struct grpc_reader r;
	int n = 0;

	grpc_reader_init(&r, buf, sizeof buf);
	assert_int_equal(grpc_reader_feed(&r, logs[0].body[0], logs[0].body_len[0], check_message, &n), 0);
	assert_int_equal(n, 6);
	assert_true(grpc_reader_idle(&r));
}

/* Feeding in two parts at every split point gives the same events. */
static void test_session_every_split(void **state)
{
	size_t len;
	uint8_t *data = unit_read_file(FIXTURES "server.h2", &len);

	for (size_t split = 0; split <= len; split++) {
		struct log *l = &logs[1];

		reset_log(l);
		open_streams();
		assert_int_equal(h2_feed(&conn, data, split, record, l), 0);
		assert_int_equal(h2_feed(&conn, data + split, len - split, record, l), 0);
		if (strcmp(l->text, logs[0].text))
			fail_msg("events differ when split at byte %zu", split);
	}
	free(data);
}

static void test_session_byte_by_byte(void **state)
{
	size_t len;
	uint8_t *data = unit_read_file(FIXTURES "server.h2", &len);
	struct log *l = &logs[1];

	reset_log(l);
	open_streams();
	for (size_t i = 0; i < len; i++)
		assert_int_equal(h2_feed(&conn, data + i, 1, record, l), 0);
	assert_string_equal(l->text, logs[0].text);
	free(data);
}

/* Helpers for synthetic frames. */
static size_t frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len)
{
	out[0] = (uint8_t)(len >> 16);
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	out[3] = type;
	out[4] = flags;
	out[5] = (uint8_t)(stream >> 24);
	out[6] = (uint8_t)(stream >> 16);
	out[7] = (uint8_t)(stream >> 8);
	out[8] = (uint8_t)stream;
	if (len)
		memcpy(out + 9, payload, len);
	return 9 + len;
}

static int feed_frames(const uint8_t *frames, size_t len)
{
	reset_log(&logs[1]);
	open_streams();
	uint8_t settings[9];

	frame(settings, H2_SETTINGS, 0, 0, NULL, 0);
	assert_int_equal(h2_feed(&conn, settings, 9, record, &logs[1]), 0);
	conn.out_len = 0;
	return h2_feed(&conn, frames, len, record, &logs[1]);
}

static void test_ping_answered(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_PING, 0, 0, "12345678", 8);

	assert_int_equal(feed_frames(buf, n), 0);
	assert_int_equal(conn.out_len, 17);
	assert_int_equal(conn.out[3], H2_PING);
	assert_int_equal(conn.out[4], 1);
	assert_memory_equal(conn.out + 9, "12345678", 8);
}

static void test_preface_must_be_settings(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_PING, 0, 0, "12345678", 8);

	reset_log(&logs[1]);
	open_streams();
	assert_int_equal(h2_feed(&conn, buf, n, record, &logs[1]), H2_ERR_PROTOCOL);
	/* A GOAWAY with PROTOCOL_ERROR is queued. */
	assert_int_equal(conn.out[3], H2_GOAWAY);
	assert_int_equal(conn.out[9 + 7], H2_PROTOCOL_ERROR);
}

static void test_frame_too_large(void **state)
{
	uint8_t head[9] = { 0, 0x40, 0x01, H2_DATA, 0, 0, 0, 0, 1 };   /* 16385 bytes */

	assert_int_equal(feed_frames(head, 9), H2_ERR_PROTOCOL);
	assert_int_equal(conn.out[9 + 7], H2_FRAME_SIZE_ERROR);
}

static void test_continuation_interrupted(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_HEADERS, 0, 1, "\x88", 1);   /* no END_HEADERS */

	n += frame(buf + n, H2_DATA, 0, 1, "x", 1);
	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
}

static void test_continuation_joined(void **state)
{
	uint8_t buf[64];
	/* ":status: 200" then "grpc-status: 0" split across CONTINUATION. */
	size_t n = frame(buf, H2_HEADERS, 0x1, 1, "\x88\x00\x0bgrpc-", 8);

	n += frame(buf + n, H2_CONTINUATION, 0x4, 1, "status\x01\x30", 8);
	assert_int_equal(feed_frames(buf, n), 0);
	assert_string_equal(logs[1].text, "1 H :status: 200\n1 H grpc-status: 0\n1 headers done\n1 end\n");
}

static void test_padding_stripped(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_DATA, 0x8, 1, "\x03" "abc" "\0\0\0", 7);

	assert_int_equal(feed_frames(buf, n), 0);
	assert_string_equal(logs[1].text, "1 data 3\n");
	n = frame(buf, H2_DATA, 0x8, 1, "\x09" "abc", 4);   /* padding longer than the frame */
	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
}

static void test_rst_and_goaway(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_RST_STREAM, 0, 3, "\0\0\0\x08", 4);

	n += frame(buf + n, H2_GOAWAY, 0, 0, "\0\0\0\x05\0\0\0\0debug", 13);
	assert_int_equal(feed_frames(buf, n), 0);
	assert_string_equal(logs[1].text, "3 reset 8\ngoaway 5 0\n");
	assert_int_equal(h2_request(&conn, "localhost", "/x", NULL, 0, "", 0), H2_ERR_GOAWAY);
}

static void test_idle_stream_rejected(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_DATA, 0, 99, "x", 1);

	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
	n = frame(buf, H2_PUSH_PROMISE, 0x4, 1, "\0\0\0\x02", 4);
	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
}

static void test_bad_settings(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_SETTINGS, 0, 0, "\0\x05\0\0\x10\0", 6);   /* MAX_FRAME_SIZE 4096 */

	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
	n = frame(buf, H2_SETTINGS, 0, 0, "\0\x04\x80\0\0\0", 6);   /* window 2^31 */
	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
	assert_int_equal(conn.out[9 + 7], H2_FLOW_CONTROL_ERROR);
	n = frame(buf, H2_SETTINGS, 0, 0, "\0\x04\0\0", 4);   /* not a multiple of 6 */
	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
}

static void test_window_update_rules(void **state)
{
	uint8_t buf[64];
	size_t n = frame(buf, H2_WINDOW_UPDATE, 0, 0, "\0\0\0\0", 4);

	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
	n = frame(buf, H2_WINDOW_UPDATE, 0, 0, "\x7f\xff\xff\xff", 4);   /* overflows 2^31 - 1 */
	assert_int_equal(feed_frames(buf, n), H2_ERR_PROTOCOL);
	n = frame(buf, H2_WINDOW_UPDATE, 0, 3, "\0\0\0\0", 4);   /* stream error only */
	assert_int_equal(feed_frames(buf, n), 0);
	assert_string_equal(logs[1].text, "3 reset 1\n");
}

/* Consumed data is returned to the peer in WINDOW_UPDATE frames, so a
 * long response never stalls. */
static void test_receive_window_reopened(void **state)
{
	static uint8_t buf[9 + H2_FRAME_MAX];
	static uint8_t payload[H2_FRAME_MAX];
	size_t updates[2] = { 0, 0 };   /* connection, stream 1 */

	assert_int_equal(feed_frames(NULL, 0), 0);
	for (int i = 0; i < 300; i++) {
		size_t n = frame(buf, H2_DATA, 0, 1, payload, sizeof payload);

		assert_int_equal(h2_feed(&conn, buf, n, record, &logs[1]), 0);
		for (size_t k = 0; k + 13 <= conn.out_len; k += 9 + ((size_t)conn.out[k + 1] << 8 | conn.out[k + 2]))
			if (conn.out[k + 3] == H2_WINDOW_UPDATE)
				updates[conn.out[k + 8] == 1]++;
		conn.out_len = 0;
	}
	/* 300 * 16 KiB = 4.7 MiB on stream 1, more than its 1 MiB window
	 * and than the default 64 KiB: 18 stream updates (every 256 KiB)
	 * and one for the connection (every 4 MiB). */
	assert_int_equal(updates[1], 18);
	assert_int_equal(updates[0], 1);
	assert_int_equal(logs[1].resets, 0);
}

static int collect_header(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len)
{
	struct log *l = ctx;
	char line[256];

	snprintf(line, sizeof line, "%.*s: %.*s\n", (int)name_len, name, (int)value_len, value);
	append(l, line);
	return 0;
}

static void test_request_encoding(void **state)
{
	static const struct h2_header headers[] = { { "content-type", "application/grpc" },
						    { "containerd-namespace", "default" } };
	static struct hpack_decoder dec;
	size_t preface = sizeof H2_PREFACE - 1;

	h2_init(&conn);
	assert_memory_equal(conn.out, H2_PREFACE, preface);
	assert_int_equal(conn.out[preface + 3], H2_SETTINGS);
	size_t pos = preface + 9 + 18;

	assert_int_equal(conn.out[pos + 3], H2_WINDOW_UPDATE);
	pos += 13;
	conn.out_len -= 0;
	assert_int_equal(h2_request(&conn, "localhost", "/svc/M", headers, 2, "body", 4), 1);
	assert_int_equal(conn.out[pos + 3], H2_HEADERS);
	assert_int_equal(conn.out[pos + 4], 0x4);
	size_t block_len = (size_t)conn.out[pos + 1] << 8 | conn.out[pos + 2];

	reset_log(&logs[1]);
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(hpack_decode(&dec, conn.out + pos + 9, block_len, collect_header, &logs[1]), 0);
	assert_string_equal(logs[1].text, ":method: POST\n:scheme: http\n:path: /svc/M\n:authority: localhost\n"
					  "content-type: application/grpc\ncontainerd-namespace: default\n");
	pos += 9 + block_len;
	assert_int_equal(conn.out[pos + 3], H2_DATA);
	assert_int_equal(conn.out[pos + 4], 0x1);
	assert_memory_equal(conn.out + pos + 9, "body", 4);
	assert_int_equal(h2_open_streams(&conn), 1);
	h2_reset_stream(&conn, 1, H2_CANCEL);
	assert_int_equal(h2_open_streams(&conn), 0);
}

static int teardown(void **state)
{
	reset_log(&logs[0]);
	reset_log(&logs[1]);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_whole),
		cmocka_unit_test(test_session_messages),
		cmocka_unit_test(test_session_every_split),
		cmocka_unit_test(test_session_byte_by_byte),
		cmocka_unit_test(test_ping_answered),
		cmocka_unit_test(test_preface_must_be_settings),
		cmocka_unit_test(test_frame_too_large),
		cmocka_unit_test(test_continuation_interrupted),
		cmocka_unit_test(test_continuation_joined),
		cmocka_unit_test(test_padding_stripped),
		cmocka_unit_test(test_rst_and_goaway),
		cmocka_unit_test(test_idle_stream_rejected),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_window_update_rules),
		cmocka_unit_test(test_receive_window_reopened),
		cmocka_unit_test(test_request_encoding),
	};

	return cmocka_run_group_tests(tests, session, teardown);
}
