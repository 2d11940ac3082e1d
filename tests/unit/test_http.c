/* Unit tests for lib/http: the request writer and the response parser.
 * Every well-formed response is fed whole, in every two-piece split, in
 * every three-piece split (when short), and one byte at a time; each way
 * must give the same callbacks. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* A text transcript of the callbacks, with consecutive body pieces joined,
 * so different splits compare equal. */
struct transcript {
	char text[65536];
	size_t len;
	int in_body;
	int stop_at_header;     /* header callback number that returns 7, or 0 */
	int headers_seen;
};

static void add(struct transcript *t, const char *s, size_t n)
{
	assert_true(t->len + n < sizeof t->text);
	memcpy(t->text + t->len, s, n);
	t->len += n;
	t->text[t->len] = '\0';
}

static void addf(struct transcript *t, const char *fmt, ...)
{
	char buf[HTTP_LINE_MAX + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof buf);
	if (t->in_body) {
		add(t, "]\n", 2);
		t->in_body = 0;
	}
	add(t, buf, (size_t)n);
}

static int on_status(void *ctx, const struct http_parser *p)
{
	addf(ctx, "status %d.%d %d '%s'\n", 1, p->version_minor, p->status, p->reason);
	return 0;
}

static int on_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct transcript *t = ctx;

	addf(t, "header '%.*s' '%.*s'\n", (int)nlen, name, (int)vlen, value);
	if (t->stop_at_header && ++t->headers_seen == t->stop_at_header)
		return 7;
	return 0;
}

static int on_headers_done(void *ctx, const struct http_parser *p)
{
	addf(ctx, "headers chunked=%d length=%lld keep_alive=%d until_close=%d\n", p->chunked,
	     (long long)p->content_length, p->keep_alive, p->until_close);
	return 0;
}

static int on_body(void *ctx, const char *data, size_t len)
{
	struct transcript *t = ctx;

	assert_true(len > 0);
	if (!t->in_body) {
		add(t, "body [", 6);
		t->in_body = 1;
	}
	add(t, data, len);
	return 0;
}

static int on_trailer(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	addf(ctx, "trailer '%.*s' '%.*s'\n", (int)nlen, name, (int)vlen, value);
	return 0;
}

static int on_complete(void *ctx, const struct http_parser *p)
{
	addf(ctx, "complete %llu\n", (unsigned long long)p->body_bytes);
	return 0;
}

static const struct http_callbacks callbacks = {
	on_status, on_header, on_headers_done, on_body, on_trailer, on_complete,
};

/* Feeds msg in the pieces that cuts[] marks and then, unless the response
 * ended, the end of input.  Returns the final result and the transcript. */
static int run_split(const char *msg, size_t len, const size_t *cuts, size_t ncuts,
		     unsigned flags, struct transcript *t, size_t *used)
{
	struct http_parser *p = malloc(sizeof *p);
	size_t start = 0, consumed, total = 0;
	int r = 0;

	assert_non_null(p);
	memset(t, 0, sizeof *t);
	http_parser_init(p, flags, &callbacks, t);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;

		r = http_parser_feed(p, msg + start, end - start, &consumed);
		total += consumed;
		if (r != 0)
			break;
		start = end;
	}
	if (r == 0)
		r = http_parser_finish(p);
	if (r < 0)
		addf(t, "error %s\n", http_strerror(r));
	else
		addf(t, "end %d\n", r);
	if (used)
		*used = total;
	free(p);
	return r;
}

/* Checks that every split of msg gives the transcript of the whole feed;
 * returns that transcript's result. */
static int check_splits(const char *msg, unsigned flags, struct transcript *whole)
{
	size_t len = strlen(msg);
	struct transcript *t = malloc(sizeof *t);
	size_t cuts[2];
	int r;

	assert_non_null(t);
	r = run_split(msg, len, NULL, 0, flags, whole, NULL);
	for (size_t i = 1; i < len; i++) {
		cuts[0] = i;
		assert_int_equal(run_split(msg, len, cuts, 1, flags, t, NULL), r);
		assert_string_equal(t->text, whole->text);
	}
	if (len <= 200) {
		for (size_t i = 1; i < len; i++)
			for (size_t j = i + 1; j < len; j++) {
				cuts[0] = i;
				cuts[1] = j;
				assert_int_equal(run_split(msg, len, cuts, 2, flags, t, NULL), r);
				assert_string_equal(t->text, whole->text);
			}
	}
	{
		size_t *bytes = malloc(len * sizeof *bytes);

		assert_non_null(bytes);
		for (size_t i = 0; i + 1 < len; i++)
			bytes[i] = i + 1;
		assert_int_equal(run_split(msg, len, bytes, len ? len - 1 : 0, flags, t, NULL), r);
		assert_string_equal(t->text, whole->text);
		free(bytes);
	}
	free(t);
	return r;
}

static struct transcript *new_transcript(void)
{
	struct transcript *t = malloc(sizeof *t);

	assert_non_null(t);
	return t;
}

static void expect(const char *msg, unsigned flags, int result, const char *text)
{
	struct transcript *t = new_transcript();

	assert_int_equal(check_splits(msg, flags, t), result);
	assert_string_equal(t->text, text);
	free(t);
}

static void test_content_length(void **state)
{
	expect("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
	       0, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'Content-Type' 'application/json'\n"
	       "header 'Content-Length' '7'\n"
	       "headers chunked=0 length=7 keep_alive=1 until_close=0\n"
	       "body [{\"a\":1}]\n"
	       "complete 7\n"
	       "end 1\n");
}

static void test_chunked_extensions_trailers(void **state)
{
	expect("HTTP/1.1 200 OK\r\n"
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "5;name=value\r\nhello\r\n"
	       "1 ; a ; b = \"q\\\"x\" \r\n \r\n"
	       "A\r\n0123456789\r\n"
	       "0;last\r\n"
	       "Expires: never\r\n"
	       "X-Checksum:  abc \r\n"
	       "\r\n",
	       0, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'Transfer-Encoding' 'chunked'\n"
	       "headers chunked=1 length=-1 keep_alive=1 until_close=0\n"
	       "body [hello 0123456789]\n"
	       "trailer 'Expires' 'never'\n"
	       "trailer 'X-Checksum' 'abc'\n"
	       "complete 16\n"
	       "end 1\n");
}

static void test_case_insensitive_names(void **state)
{
	expect("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\ncOnNeCtIoN: Close\r\n\r\n"
	       "3\r\nabc\r\n0\r\n\r\n",
	       0, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'TRANSFER-ENCODING' 'Chunked'\n"
	       "header 'cOnNeCtIoN' 'Close'\n"
	       "headers chunked=1 length=-1 keep_alive=0 until_close=0\n"
	       "body [abc]\n"
	       "complete 3\n"
	       "end 1\n");
	assert_true(http_name_is("Content-Length", 14, "content-length"));
	assert_false(http_name_is("Content-Lengt", 13, "content-length"));
	assert_false(http_name_is("Content-Lengthx", 15, "content-length"));
}

static void test_bare_lf_lines(void **state)
{
	expect("HTTP/1.1 404 Not Found\nContent-Length: 2\n\n{}", 0, 1,
	       "status 1.1 404 'Not Found'\n"
	       "header 'Content-Length' '2'\n"
	       "headers chunked=0 length=2 keep_alive=1 until_close=0\n"
	       "body [{}]\n"
	       "complete 2\n"
	       "end 1\n");
}

static void test_body_until_close(void **state)
{
	expect("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nsome data", 0, 1,
	       "status 1.0 200 'OK'\n"
	       "header 'Server' 'x'\n"
	       "headers chunked=0 length=-1 keep_alive=0 until_close=1\n"
	       "body [some data]\n"
	       "complete 9\n"
	       "end 1\n");
}

static void test_no_body_responses(void **state)
{
	const char *text204 =
		"status 1.1 204 'No Content'\n"
		"headers chunked=0 length=-1 keep_alive=1 until_close=0\n"
		"complete 0\n"
		"end 1\n";

	expect("HTTP/1.1 204 No Content\r\n\r\n", 0, 1, text204);
	expect("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, 1,
	       "status 1.1 304 'Not Modified'\n"
	       "header 'Content-Length' '10'\n"
	       "headers chunked=0 length=10 keep_alive=1 until_close=0\n"
	       "complete 0\n"
	       "end 1\n");
	expect("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", HTTP_PARSE_HEAD, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'Content-Length' '10'\n"
	       "headers chunked=0 length=10 keep_alive=1 until_close=0\n"
	       "complete 0\n"
	       "end 1\n");
}

static void test_interim_response_skipped(void **state)
{
	expect("HTTP/1.1 100 Continue\r\nX-Ignored: 1\r\n\r\n"
	       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	       0, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'Content-Length' '0'\n"
	       "headers chunked=0 length=0 keep_alive=1 until_close=0\n"
	       "complete 0\n"
	       "end 1\n");
}

static void test_status_without_reason(void **state)
{
	expect("HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n", 0, 1,
	       "status 1.1 500 ''\n"
	       "header 'Content-Length' '0'\n"
	       "headers chunked=0 length=0 keep_alive=1 until_close=0\n"
	       "complete 0\n"
	       "end 1\n");
}

static void test_content_length_list(void **state)
{
	expect("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", 0, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'Content-Length' '3, 3'\n"
	       "header 'Content-Length' '3'\n"
	       "headers chunked=0 length=3 keep_alive=1 until_close=0\n"
	       "body [abc]\n"
	       "complete 3\n"
	       "end 1\n");
}

static void test_chunked_overrides_length(void **state)
{
	expect("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "2\r\nok\r\n0\r\n\r\n",
	       0, 1,
	       "status 1.1 200 'OK'\n"
	       "header 'Content-Length' '100'\n"
	       "header 'Transfer-Encoding' 'chunked'\n"
	       "headers chunked=1 length=-1 keep_alive=0 until_close=0\n"
	       "body [ok]\n"
	       "complete 2\n"
	       "end 1\n");
}

/* A malformed response: every split must fail with the same error. */
static void expect_error(const char *msg, int err)
{
	struct transcript *t = new_transcript();
	char last[128];
	size_t n;

	assert_int_equal(check_splits(msg, 0, t), err);
	n = (size_t)snprintf(last, sizeof last, "error %s\n", http_strerror(err));
	assert_true(t->len >= n);
	assert_string_equal(t->text + t->len - n, last);
	free(t);
}

static void test_malformed_responses(void **state)
{
	struct transcript *t = new_transcript();
	static const struct {
		const char *msg;
		int err;
	} cases[] = {
		{ "HTTP/2.0 200 OK\r\n\r\n", HTTP_ERROR_STATUS_LINE },
		{ "HTTP/1.1 20 OK\r\n\r\n", HTTP_ERROR_STATUS_LINE },
		{ "HTTP/1.1 099 OK\r\n\r\n", HTTP_ERROR_STATUS_LINE },
		{ "HTTP/1.1 200OK\r\n\r\n", HTTP_ERROR_STATUS_LINE },
		{ "SSH-2.0-OpenSSH\r\n", HTTP_ERROR_STATUS_LINE },
		{ "HTTP/1.1 200 OK\rX: y\r\n\r\n", HTTP_ERROR_STATUS_LINE },
		{ "HTTP/1.1 200 OK\r\nX y\r\n\r\n", HTTP_ERROR_HEADER },
		{ "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", HTTP_ERROR_HEADER },
		{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", HTTP_ERROR_HEADER },
		{ "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", HTTP_ERROR_HEADER },
		{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP_ERROR_OBS_FOLD },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", HTTP_ERROR_CONTENT_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP_ERROR_CONTENT_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", HTTP_ERROR_CONTENT_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP_ERROR_CONTENT_LENGTH },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTP_ERROR_TRANSFER_CODING },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", HTTP_ERROR_TRANSFER_CODING },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HTTP_ERROR_CHUNK_SIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", HTTP_ERROR_CHUNK_SIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;\r\n", HTTP_ERROR_CHUNK_SIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"x\r\n", HTTP_ERROR_CHUNK_SIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n", HTTP_ERROR_CHUNK_SIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000\r\n", HTTP_ERROR_CHUNK_SIZE },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", HTTP_ERROR_CHUNK_END },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rx", HTTP_ERROR_CHUNK_END },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", HTTP_ERROR_HEADER },
		{ "", HTTP_ERROR_TRUNCATED },
		{ "HTTP/1.1 200 OK\r\n", HTTP_ERROR_TRUNCATED },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", HTTP_ERROR_TRUNCATED },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc", HTTP_ERROR_TRUNCATED },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", HTTP_ERROR_TRUNCATED },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t len = strlen(cases[i].msg);

		print_message("case %zu\n", i);
		assert_int_equal(run_split(cases[i].msg, len, NULL, 0, 0, t, NULL), cases[i].err);
		expect_error(cases[i].msg, cases[i].err);
	}
	free(t);
}

static void test_nul_byte_rejected(void **state)
{
	static const char msg[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
	struct transcript *t = new_transcript();

	assert_int_equal(run_split(msg, sizeof msg - 1, NULL, 0, 0, t, NULL), HTTP_ERROR_HEADER);
	free(t);
}

static void test_line_too_long(void **state)
{
	size_t n = HTTP_LINE_MAX + 100;
	char *msg = malloc(n + 64);
	struct transcript *t = new_transcript();

	assert_non_null(msg);
	strcpy(msg, "HTTP/1.1 200 OK\r\nX: ");
	memset(msg + strlen(msg), 'a', n);
	msg[20 + n] = '\0';
	strcat(msg, "\r\n\r\n");
	assert_int_equal(run_split(msg, strlen(msg), NULL, 0, 0, t, NULL), HTTP_ERROR_LINE_TOO_LONG);

	/* The longest accepted line is HTTP_LINE_MAX - 1 bytes. */
	strcpy(msg, "HTTP/1.1 200 OK\r\nX: ");
	memset(msg + 20, 'a', HTTP_LINE_MAX - 1 - 20);
	strcpy(msg + HTTP_LINE_MAX - 1, "\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(run_split(msg, strlen(msg), NULL, 0, 0, t, NULL), 1);
	free(msg);
	free(t);
}

static void test_header_limits(void **state)
{
	char *msg = malloc(HTTP_HEADER_BYTES_MAX * 2);
	struct transcript *t = new_transcript();
	size_t pos;

	assert_non_null(msg);
	pos = (size_t)sprintf(msg, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		pos += (size_t)sprintf(msg + pos, "X-%d: v\r\n", i);
	strcpy(msg + pos, "Content-Length: 0\r\n\r\n");
	assert_int_equal(run_split(msg, strlen(msg), NULL, 0, 0, t, NULL), HTTP_ERROR_TOO_MANY_HEADERS);

	pos = (size_t)sprintf(msg, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 20; i++) {
		pos += (size_t)sprintf(msg + pos, "X-%d: ", i);
		memset(msg + pos, 'v', 4000);
		pos += 4000;
		pos += (size_t)sprintf(msg + pos, "\r\n");
	}
	strcpy(msg + pos, "\r\n");
	assert_int_equal(run_split(msg, strlen(msg), NULL, 0, 0, t, NULL), HTTP_ERROR_HEADERS_TOO_LARGE);
	free(msg);
	free(t);
}

static void test_callback_stops(void **state)
{
	static const char msg[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n";
	struct http_parser *p = malloc(sizeof *p);
	struct transcript *t = new_transcript();

	assert_non_null(p);
	memset(t, 0, sizeof *t);
	t->stop_at_header = 2;
	http_parser_init(p, 0, &callbacks, t);
	assert_int_equal(http_parser_feed(p, msg, sizeof msg - 1, NULL), HTTP_ERROR_CALLBACK);
	assert_int_equal(p->callback_result, 7);
	assert_null(strstr(t->text, "Content-Length"));
	assert_int_equal(http_parser_feed(p, "x", 1, NULL), HTTP_ERROR_STATE);
	assert_int_equal(http_parser_finish(p), HTTP_ERROR_CALLBACK);
	free(p);
	free(t);
}

static void test_keep_alive_two_responses(void **state)
{
	static const char msg[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 404 Not Found\r\n"
		"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
	struct http_parser *p = malloc(sizeof *p);
	struct transcript *t = new_transcript();
	size_t used, first;

	assert_non_null(p);
	memset(t, 0, sizeof *t);
	http_parser_init(p, 0, &callbacks, t);
	assert_int_equal(http_parser_feed(p, msg, sizeof msg - 1, &used), 1);
	first = used;
	assert_memory_equal(msg + first, "HTTP/1.1 404", 12);
	assert_int_equal(http_parser_feed(p, msg + first, 1, NULL), HTTP_ERROR_STATE);
	http_parser_reset(p, 0);
	assert_int_equal(http_parser_feed(p, msg + first, sizeof msg - 1 - first, &used), 1);
	assert_int_equal(first + used, sizeof msg - 1);
	assert_int_equal(p->status, 404);
	assert_string_equal(p->reason, "Not Found");
	assert_non_null(strstr(t->text, "body [x]\ncomplete 1\n"));
	free(p);
	free(t);
}

static void test_http10_keep_alive(void **state)
{
	expect("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0, 1,
	       "status 1.0 200 'OK'\n"
	       "header 'Connection' 'keep-alive'\n"
	       "header 'Content-Length' '0'\n"
	       "headers chunked=0 length=0 keep_alive=1 until_close=0\n"
	       "complete 0\n"
	       "end 1\n");
}

static void test_request_format(void **state)
{
	char buf[256];
	const struct http_field fields[] = {
		{ "User-Agent", "rdagent/0.1" },
		{ "Accept", "application/json" },
	};
	int n;

	n = http_request_format(buf, sizeof buf, "GET", "/v1.43/events?filters=%7B%7D", "docker",
				fields, 2, -1);
	assert_string_equal(buf, "GET /v1.43/events?filters=%7B%7D HTTP/1.1\r\n"
				 "Host: docker\r\n"
				 "User-Agent: rdagent/0.1\r\n"
				 "Accept: application/json\r\n"
				 "\r\n");
	assert_int_equal(n, (int)strlen(buf));

	n = http_request_format(buf, sizeof buf, "POST", "/x", "h", NULL, 0, 12);
	assert_string_equal(buf, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n");
	assert_int_equal(n, (int)strlen(buf));

	/* Exactly fitting, then one byte short. */
	assert_int_equal(http_request_format(buf, (size_t)n + 1, "POST", "/x", "h", NULL, 0, 12), n);
	assert_int_equal(http_request_format(buf, (size_t)n, "POST", "/x", "h", NULL, 0, 12), -ENOSPC);
	assert_string_equal(buf, "");
}

static void test_request_format_rejects_framing(void **state)
{
	char buf[256];
	const struct http_field bad_value[] = { { "X", "a\r\nInjected: 1" } };
	const struct http_field bad_name[] = { { "X Y", "a" } };
	const struct http_field empty_name[] = { { "", "a" } };

	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "/a b", "h", NULL, 0, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "/a\n", "h", NULL, 0, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GE T", "/", "h", NULL, 0, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "", "h", NULL, 0, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "/", "h\r\n", NULL, 0, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "/", "h", bad_value, 1, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "/", "h", bad_name, 1, -1), -EINVAL);
	assert_int_equal(http_request_format(buf, sizeof buf, "GET", "/", "h", empty_name, 1, -1), -EINVAL);
}

static void test_strerror_covers_errors(void **state)
{
	for (int e = HTTP_ERROR_OBS_FOLD; e <= HTTP_ERROR_STATUS_LINE; e++)
		assert_string_not_equal(http_strerror(e), "HTTP error");
	assert_string_equal(http_strerror(-99), "HTTP error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked_extensions_trailers),
		cmocka_unit_test(test_case_insensitive_names),
		cmocka_unit_test(test_bare_lf_lines),
		cmocka_unit_test(test_body_until_close),
		cmocka_unit_test(test_no_body_responses),
		cmocka_unit_test(test_interim_response_skipped),
		cmocka_unit_test(test_status_without_reason),
		cmocka_unit_test(test_content_length_list),
		cmocka_unit_test(test_chunked_overrides_length),
		cmocka_unit_test(test_malformed_responses),
		cmocka_unit_test(test_nul_byte_rejected),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_keep_alive_two_responses),
		cmocka_unit_test(test_http10_keep_alive),
		cmocka_unit_test(test_request_format),
		cmocka_unit_test(test_request_format_rejects_framing),
		cmocka_unit_test(test_strerror_covers_errors),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
