/* see lib/http.h.  Grammar references are to RFC 9110 (semantics) and
 * RFC 9112 (HTTP/1.1 message syntax). */
#include "http.h"
#include "text.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum state {
	S_STATUS,        /* reading the status line */
	S_HEADER,        /* reading header field lines */
	S_BODY_LENGTH,   /* Content-Length body, remaining bytes left */
	S_BODY_CLOSE,    /* body delimited by the end of the connection */
	S_CHUNK_SIZE,    /* reading a chunk-size line */
	S_CHUNK_DATA,    /* inside chunk data, remaining bytes left */
	S_CHUNK_CRLF,    /* the CRLF after chunk data */
	S_TRAILER,       /* trailer field lines after the last chunk */
	S_DONE,
	S_ERROR,
};

/* Largest Content-Length or chunk size accepted (2^56): far beyond any
 * real response, and small enough that n * 16 + 15 fits in 64 bits. */
#define HTTP_SIZE_MAX ((uint64_t)1 << 56)

/* tchar from RFC 9110 section 5.6.2. */
static int is_tchar(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 1;
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* field-value characters (RFC 9110 section 5.5): VCHAR, obs-text, SP and HTAB. */
static int valid_field_value(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static int valid_token(const char *s, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static int append(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (n >= size - *pos)
		return -ENOSPC;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
	return 0;
}

/* see lib/http.h */
int http_request_format(char *buf, size_t size, const char *method, const char *target,
			const char *host, const struct http_field *fields, size_t nfields,
			long long body_len)
{
	size_t pos = 0;
	char number[32];
	int r;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	if (!method || !valid_token(method, strlen(method)))
		return -EINVAL;
	/* request-target characters are visible ASCII (RFC 9112 section 3.2). */
	if (!target || !*target)
		return -EINVAL;
	for (const char *t = target; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return -EINVAL;
	if (!host || !valid_field_value(host, strlen(host)))
		return -EINVAL;
	for (size_t i = 0; i < nfields; i++) {
		if (!fields[i].name || !valid_token(fields[i].name, strlen(fields[i].name)))
			return -EINVAL;
		if (!fields[i].value || !valid_field_value(fields[i].value, strlen(fields[i].value)))
			return -EINVAL;
	}

	if ((r = append(buf, size, &pos, method)) || (r = append(buf, size, &pos, " ")) ||
	    (r = append(buf, size, &pos, target)) ||
	    (r = append(buf, size, &pos, " HTTP/1.1\r\nHost: ")) ||
	    (r = append(buf, size, &pos, host)) || (r = append(buf, size, &pos, "\r\n")))
		goto fail;
	for (size_t i = 0; i < nfields; i++) {
		if ((r = append(buf, size, &pos, fields[i].name)) ||
		    (r = append(buf, size, &pos, ": ")) ||
		    (r = append(buf, size, &pos, fields[i].value)) ||
		    (r = append(buf, size, &pos, "\r\n")))
			goto fail;
	}
	if (body_len >= 0) {
		snprintf(number, sizeof number, "%lld", body_len);
		if ((r = append(buf, size, &pos, "Content-Length: ")) ||
		    (r = append(buf, size, &pos, number)) || (r = append(buf, size, &pos, "\r\n")))
			goto fail;
	}
	if ((r = append(buf, size, &pos, "\r\n")))
		goto fail;
	return (int)pos;
fail:
	buf[0] = '\0';
	return r;
}

/* see lib/http.h */
const char *http_strerror(int err)
{
	switch (err) {
	case HTTP_ERROR_STATUS_LINE: return "malformed HTTP status line";
	case HTTP_ERROR_HEADER: return "malformed HTTP header field";
	case HTTP_ERROR_LINE_TOO_LONG: return "HTTP header or chunk line too long";
	case HTTP_ERROR_TOO_MANY_HEADERS: return "too many HTTP header fields";
	case HTTP_ERROR_HEADERS_TOO_LARGE: return "HTTP header section too large";
	case HTTP_ERROR_CONTENT_LENGTH: return "invalid or conflicting Content-Length";
	case HTTP_ERROR_TRANSFER_CODING: return "unsupported Transfer-Encoding";
	case HTTP_ERROR_CHUNK_SIZE: return "malformed chunk-size line";
	case HTTP_ERROR_CHUNK_END: return "chunk data not followed by CRLF";
	case HTTP_ERROR_TRUNCATED: return "HTTP response truncated";
	case HTTP_ERROR_CALLBACK: return "HTTP response rejected by the caller";
	case HTTP_ERROR_STATE: return "HTTP parser used after the end of a response";
	case HTTP_ERROR_OBS_FOLD: return "obsolete HTTP header line folding";
	}
	return "HTTP error";
}

/* see lib/http.h */
int http_name_is(const char *name, size_t len, const char *lower_name)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (!lower_name[i] || c != lower_name[i])
			return 0;
	}
	return lower_name[i] == '\0';
}

/* see lib/http.h */
void http_parser_reset(struct http_parser *p, unsigned flags)
{
	const struct http_callbacks *cb = p->cb;
	void *ctx = p->ctx;

	memset(p, 0, offsetof(struct http_parser, line));
	p->cb = cb;
	p->ctx = ctx;
	p->flags = flags;
	p->content_length = -1;
	p->state = S_STATUS;
}

/* see lib/http.h */
void http_parser_init(struct http_parser *p, unsigned flags,
		      const struct http_callbacks *cb, void *ctx)
{
	static const struct http_callbacks none;

	p->cb = cb ? cb : &none;
	p->ctx = ctx;
	http_parser_reset(p, flags);
}

static int fail(struct http_parser *p, int err)
{
	p->state = S_ERROR;
	p->error = err;
	return err;
}

static int callback_failed(struct http_parser *p, int r)
{
	p->callback_result = r;
	return fail(p, HTTP_ERROR_CALLBACK);
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ]
 * (RFC 9112 section 4).  A missing SP after the code is accepted. */
static int parse_status_line(struct http_parser *p, const char *s, size_t len)
{
	size_t reason_len;

	if (len < 12 || memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return HTTP_ERROR_STATUS_LINE;
	for (int i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return HTTP_ERROR_STATUS_LINE;
	if (s[9] == '0')
		return HTTP_ERROR_STATUS_LINE;
	if (len > 12 && s[12] != ' ')
		return HTTP_ERROR_STATUS_LINE;
	if (!valid_field_value(s, len))
		return HTTP_ERROR_STATUS_LINE;
	p->version_minor = s[7] - '0';
	p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	reason_len = len > 13 ? len - 13 : 0;
	if (reason_len >= sizeof p->reason)
		reason_len = sizeof p->reason - 1;
	if (reason_len)
		memcpy(p->reason, s + 13, reason_len);
	p->reason[reason_len] = '\0';
	return 0;
}

/* Content-Length = 1*DIGIT; a list of identical values is accepted as one
 * (RFC 9110 section 8.6). */
static int parse_content_length(struct http_parser *p, const char *v, size_t len)
{
	size_t i = 0;

	if (!len)
		return HTTP_ERROR_CONTENT_LENGTH;
	while (i < len) {
		uint64_t n = 0;
		size_t digits = 0;

		while (i < len && v[i] >= '0' && v[i] <= '9') {
			n = n * 10 + (uint64_t)(v[i] - '0');
			if (n > HTTP_SIZE_MAX)
				return HTTP_ERROR_CONTENT_LENGTH;
			i++;
			digits++;
		}
		if (!digits)
			return HTTP_ERROR_CONTENT_LENGTH;
		if (p->content_length >= 0 && (uint64_t)p->content_length != n)
			return HTTP_ERROR_CONTENT_LENGTH;
		p->content_length = (int64_t)n;
		while (i < len && is_ows(v[i]))
			i++;
		if (i == len)
			break;
		if (v[i] != ',')
			return HTTP_ERROR_CONTENT_LENGTH;
		i++;
		while (i < len && is_ows(v[i]))
			i++;
	}
	return 0;
}

/* Calls fn for each non-empty element of a comma-separated list
 * (RFC 9110 section 5.6.1), trimmed of OWS. */
static int for_each_element(struct http_parser *p, const char *v, size_t len,
			    int (*fn)(struct http_parser *, const char *, size_t))
{
	size_t i = 0;

	while (i < len) {
		size_t start, end;
		int r;

		while (i < len && (is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows(v[end - 1]))
			end--;
		if (end > start && (r = fn(p, v + start, end - start)))
			return r;
	}
	return 0;
}

/* Transfer-Encoding: only "chunked", once, is supported; a response with
 * any other coding cannot be decoded here. */
static int transfer_coding(struct http_parser *p, const char *s, size_t len)
{
	if (!http_name_is(s, len, "chunked") || p->chunked)
		return HTTP_ERROR_TRANSFER_CODING;
	p->chunked = 1;
	return 0;
}

static int connection_option(struct http_parser *p, const char *s, size_t len)
{
	if (http_name_is(s, len, "close"))
		p->seen_close = 1;
	else if (http_name_is(s, len, "keep-alive"))
		p->seen_close = p->seen_close ? 1 : -1;
	return 0;
}

/* Splits a field line into name and trimmed value and checks both
 * (RFC 9112 section 5). */
static int split_field(const char *s, size_t len, const char **value, size_t *value_len,
		       size_t *name_len)
{
	const char *colon = memchr(s, ':', len);
	const char *v, *end = s + len;

	if (len && is_ows(s[0]))
		return HTTP_ERROR_OBS_FOLD;
	if (!colon || !valid_token(s, (size_t)(colon - s)))
		return HTTP_ERROR_HEADER;
	v = colon + 1;
	while (v < end && is_ows(*v))
		v++;
	while (end > v && is_ows(end[-1]))
		end--;
	if (!valid_field_value(v, (size_t)(end - v)))
		return HTTP_ERROR_HEADER;
	*name_len = (size_t)(colon - s);
	*value = v;
	*value_len = (size_t)(end - v);
	return 0;
}

static int count_field(struct http_parser *p, size_t line_len)
{
	if (++p->header_count > HTTP_HEADERS_MAX)
		return HTTP_ERROR_TOO_MANY_HEADERS;
	p->header_bytes += line_len + 2;
	if (p->header_bytes > HTTP_HEADER_BYTES_MAX)
		return HTTP_ERROR_HEADERS_TOO_LARGE;
	return 0;
}

static int interim(const struct http_parser *p)
{
	return p->status >= 100 && p->status < 200 && p->status != 101;
}

/* Handles a header field line, or a trailer field line after the last
 * chunk; trailer fields never change how the message is framed. */
static int field_line(struct http_parser *p, const char *s, size_t len)
{
	const char *value;
	size_t name_len, value_len;
	int r;

	if ((r = count_field(p, len)))
		return r;
	if ((r = split_field(s, len, &value, &value_len, &name_len)))
		return r;
	if (p->in_trailer) {
		if (p->cb->trailer && (r = p->cb->trailer(p->ctx, s, name_len, value, value_len)))
			return callback_failed(p, r);
		return 0;
	}
	if (interim(p))
		return 0;
	if (http_name_is(s, name_len, "content-length"))
		r = parse_content_length(p, value, value_len);
	else if (http_name_is(s, name_len, "transfer-encoding"))
		r = for_each_element(p, value, value_len, transfer_coding);
	else if (http_name_is(s, name_len, "connection"))
		r = for_each_element(p, value, value_len, connection_option);
	if (r)
		return r;
	if (p->cb->header && (r = p->cb->header(p->ctx, s, name_len, value, value_len)))
		return callback_failed(p, r);
	return 0;
}

static int complete(struct http_parser *p)
{
	int r;

	p->state = S_DONE;
	if (p->cb->complete && (r = p->cb->complete(p->ctx, p)))
		return callback_failed(p, r);
	return 1;
}

/* Decides how the body is delimited (RFC 9112 section 6.3). */
static int headers_end(struct http_parser *p)
{
	int no_body, r;

	if (interim(p)) {
		/* An interim response: its fields are dropped and the final
		 * response follows. */
		unsigned flags = p->flags;

		http_parser_reset(p, flags);
		return 0;
	}
	no_body = (p->flags & HTTP_PARSE_HEAD) || p->status < 200 || p->status == 204 ||
		  p->status == 304;
	if (p->version_minor >= 1)
		p->keep_alive = p->seen_close != 1;
	else
		p->keep_alive = p->seen_close == -1;
	if (!no_body && p->chunked) {
		/* Transfer-Encoding overrides Content-Length, but the
		 * combination is a framing smell, so the connection is not
		 * reused (RFC 9112 section 6.3, item 3). */
		if (p->content_length >= 0)
			p->keep_alive = 0;
		p->content_length = -1;
	} else if (!no_body && p->content_length < 0) {
		p->until_close = 1;
		p->keep_alive = 0;
	}
	if (p->status == 101)
		p->keep_alive = 0;
	if (p->cb->headers_done && (r = p->cb->headers_done(p->ctx, p)))
		return callback_failed(p, r);
	if (no_body)
		return complete(p);
	if (p->chunked) {
		p->state = S_CHUNK_SIZE;
	} else if (p->until_close) {
		p->state = S_BODY_CLOSE;
	} else if (p->content_length == 0) {
		return complete(p);
	} else {
		p->remaining = (uint64_t)p->content_length;
		p->state = S_BODY_LENGTH;
	}
	return 0;
}

/* chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 section 7.1), with
 * chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
 * and chunk-ext-val a token or a quoted-string.  Extensions are checked and
 * ignored. */
static int parse_chunk_size(const char *s, size_t len, uint64_t *size)
{
	size_t i = 0;
	uint64_t n = 0;

	while (i < len && hex_digit_value(s[i]) >= 0) {
		n = n * 16 + (uint64_t)hex_digit_value(s[i]);
		if (n > HTTP_SIZE_MAX)
			return HTTP_ERROR_CHUNK_SIZE;
		i++;
	}
	if (!i)
		return HTTP_ERROR_CHUNK_SIZE;
	for (;;) {
		size_t start;

		while (i < len && is_ows(s[i]))
			i++;
		if (i == len)
			break;
		if (s[i] != ';')
			return HTTP_ERROR_CHUNK_SIZE;
		i++;
		while (i < len && is_ows(s[i]))
			i++;
		start = i;
		while (i < len && is_tchar((unsigned char)s[i]))
			i++;
		if (i == start)
			return HTTP_ERROR_CHUNK_SIZE;
		while (i < len && is_ows(s[i]))
			i++;
		if (i == len || s[i] != '=')
			continue;
		i++;
		while (i < len && is_ows(s[i]))
			i++;
		if (i < len && s[i] == '"') {
			/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE */
			i++;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\')
					i++;
				if (i >= len || !valid_field_value(s + i, 1))
					return HTTP_ERROR_CHUNK_SIZE;
				i++;
			}
			if (i == len)
				return HTTP_ERROR_CHUNK_SIZE;
			i++;
		} else {
			start = i;
			while (i < len && is_tchar((unsigned char)s[i]))
				i++;
			if (i == start)
				return HTTP_ERROR_CHUNK_SIZE;
		}
	}
	*size = n;
	return 0;
}

/* Handles one complete line (without its line ending) for the current
 * state.  Returns 0, 1 when the response is complete, or an error. */
static int line_done(struct http_parser *p, const char *s, size_t len)
{
	uint64_t size;
	int r;

	switch (p->state) {
	case S_STATUS:
		/* Empty lines before the status line are skipped, as RFC 9112
		 * section 2.2 allows for request lines. */
		if (!len)
			return 0;
		if ((r = parse_status_line(p, s, len)))
			return r;
		p->state = S_HEADER;
		if (!interim(p) && p->cb->status && (r = p->cb->status(p->ctx, p)))
			return callback_failed(p, r);
		return 0;
	case S_HEADER:
		if (!len)
			return headers_end(p);
		return field_line(p, s, len);
	case S_CHUNK_SIZE:
		if ((r = parse_chunk_size(s, len, &size)))
			return r;
		if (size == 0) {
			p->state = S_TRAILER;
			p->in_trailer = 1;
		} else {
			p->remaining = size;
			p->state = S_CHUNK_DATA;
		}
		return 0;
	case S_CHUNK_CRLF:
		if (len)
			return HTTP_ERROR_CHUNK_END;
		p->state = S_CHUNK_SIZE;
		return 0;
	case S_TRAILER:
		if (!len)
			return complete(p);
		return field_line(p, s, len);
	}
	return HTTP_ERROR_STATE;
}

static int line_error(const struct http_parser *p)
{
	switch (p->state) {
	case S_STATUS: return HTTP_ERROR_STATUS_LINE;
	case S_CHUNK_SIZE: return HTTP_ERROR_CHUNK_SIZE;
	case S_CHUNK_CRLF: return HTTP_ERROR_CHUNK_END;
	}
	return HTTP_ERROR_HEADER;
}

/* Consumes bytes of a line-based state up to and including LF.  Lines end
 * in CRLF; a bare LF is accepted too (RFC 9112 section 2.2), a bare CR is
 * not.  Returns bytes consumed, or an error through *result. */
static size_t feed_line(struct http_parser *p, const char *data, size_t len, int *result)
{
	size_t i;

	*result = 0;
	for (i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n') {
			size_t line_len = p->line_len;

			p->line_len = 0;
			p->line_cr = 0;
			*result = line_done(p, p->line, line_len);
			return i + 1;
		}
		if (p->line_cr || c == '\0') {
			*result = line_error(p);
			return i;
		}
		if (c == '\r') {
			p->line_cr = 1;
			continue;
		}
		/* Nothing but the line ending may follow chunk data. */
		if (p->state == S_CHUNK_CRLF) {
			*result = HTTP_ERROR_CHUNK_END;
			return i;
		}
		if (p->line_len >= HTTP_LINE_MAX - 1) {
			*result = HTTP_ERROR_LINE_TOO_LONG;
			return i;
		}
		p->line[p->line_len++] = c;
	}
	return i;
}

static int feed_body(struct http_parser *p, const char *data, size_t len)
{
	int r;

	p->body_bytes += len;
	if (p->cb->body && (r = p->cb->body(p->ctx, data, len)))
		return callback_failed(p, r);
	return 0;
}

/* see lib/http.h */
int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed)
{
	size_t i = 0;
	int r = 0;

	if (consumed)
		*consumed = 0;
	if (p->state == S_ERROR || p->state == S_DONE)
		return HTTP_ERROR_STATE;
	while (i < len) {
		size_t n;

		switch (p->state) {
		case S_BODY_LENGTH:
		case S_CHUNK_DATA:
			n = len - i;
			if (n > p->remaining)
				n = (size_t)p->remaining;
			p->remaining -= n;
			r = feed_body(p, data + i, n);
			i += n;
			if (!r && !p->remaining) {
				if (p->state == S_CHUNK_DATA)
					p->state = S_CHUNK_CRLF;
				else
					r = complete(p);
			}
			break;
		case S_BODY_CLOSE:
			r = feed_body(p, data + i, len - i);
			i = len;
			break;
		default:
			i += feed_line(p, data + i, len - i, &r);
			break;
		}
		if (r < 0) {
			if (p->state != S_ERROR)
				fail(p, r);
			break;
		}
		if (r == 1)
			break;
	}
	if (consumed)
		*consumed = i;
	return r;
}

/* see lib/http.h */
int http_parser_finish(struct http_parser *p)
{
	if (p->state == S_DONE)
		return 1;
	if (p->state == S_ERROR)
		return p->error;
	if (p->state == S_BODY_CLOSE)
		return complete(p);
	return fail(p, HTTP_ERROR_TRUNCATED);
}
