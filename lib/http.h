/* HTTP/1.1 client side, without I/O (RFC 9110, RFC 9112).
 *
 * The caller owns the transport (a unix socket, TCP, TLS): it formats a
 * request into its own buffer with http_request_format, writes it, and
 * feeds every byte it reads to http_parser_feed, which reports the status
 * line, each header field, body data and the end of the message through
 * callbacks.  Input may be split anywhere: one byte per call gives the same
 * callbacks as the whole response at once, except that body data arrives
 * in more pieces.
 *
 * Memory is the parser struct itself: a header line (and a chunk-size
 * line) longer than HTTP_LINE_MAX - 1 bytes, more than HTTP_HEADERS_MAX
 * fields, or more than HTTP_HEADER_BYTES_MAX bytes of header section are
 * errors, never truncation.  Body data is passed through as slices of the
 * caller's input, so the body size is the caller's limit to enforce. */
#ifndef RDAGENT_HTTP_H
#define RDAGENT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_LINE_MAX 8192
#define HTTP_HEADERS_MAX 128
#define HTTP_HEADER_BYTES_MAX 65536

/* One request header field for http_request_format. */
struct http_field {
	const char *name;
	const char *value;
};

/* Formats "METHOD TARGET HTTP/1.1" with a Host field, the given fields and,
 * when body_len >= 0, a Content-Length field, followed by the empty line;
 * the body itself is the caller's to send.  Returns the length written to
 * buf (NUL-terminated), -ENOSPC when it does not fit, or -EINVAL when a
 * method, target, name or value holds a character that would break the
 * message framing (CR, LF, NUL; a space in method or target; a name that
 * is not an RFC 9110 token). */
int http_request_format(char *buf, size_t size, const char *method, const char *target,
			const char *host, const struct http_field *fields, size_t nfields,
			long long body_len);

enum http_error {
	HTTP_ERROR_STATUS_LINE = -1,   /* malformed status line or version */
	HTTP_ERROR_HEADER = -2,        /* malformed header field */
	HTTP_ERROR_LINE_TOO_LONG = -3, /* line over HTTP_LINE_MAX - 1 bytes */
	HTTP_ERROR_TOO_MANY_HEADERS = -4,
	HTTP_ERROR_HEADERS_TOO_LARGE = -5,
	HTTP_ERROR_CONTENT_LENGTH = -6, /* invalid or conflicting Content-Length */
	HTTP_ERROR_TRANSFER_CODING = -7, /* a transfer coding other than chunked */
	HTTP_ERROR_CHUNK_SIZE = -8,    /* malformed or overflowing chunk-size line */
	HTTP_ERROR_CHUNK_END = -9,     /* chunk data not followed by CRLF */
	HTTP_ERROR_TRUNCATED = -10,    /* end of input inside a message */
	HTTP_ERROR_CALLBACK = -11,     /* a callback stopped parsing */
	HTTP_ERROR_STATE = -12,        /* fed after an error or after the end */
	HTTP_ERROR_OBS_FOLD = -13,     /* obsolete line folding, rejected */
};

const char *http_strerror(int err);

struct http_parser;

/* Callbacks; any may be NULL.  Each returns 0 to go on; any other value
 * stops parsing: http_parser_feed then returns HTTP_ERROR_CALLBACK and
 * keeps the value in callback_result.  Names and values point into the
 * parser or into the caller's input and are valid during the call only;
 * they are not NUL-terminated.  Values have no leading or trailing
 * whitespace. */
struct http_callbacks {
	/* Status line of the final response (1xx interim responses other
	 * than 101 are skipped); p->status and p->reason are set. */
	int (*status)(void *ctx, const struct http_parser *p);
	int (*header)(void *ctx, const char *name, size_t name_len,
		      const char *value, size_t value_len);
	/* After the header section; p->chunked, p->content_length and
	 * p->keep_alive describe the body. */
	int (*headers_done)(void *ctx, const struct http_parser *p);
	int (*body)(void *ctx, const char *data, size_t len);
	/* Trailer fields after the last chunk. */
	int (*trailer)(void *ctx, const char *name, size_t name_len,
		       const char *value, size_t value_len);
	/* The whole response has been read. */
	int (*complete)(void *ctx, const struct http_parser *p);
};

/* Parser flags. */
enum {
	HTTP_PARSE_HEAD = 1,   /* the request was HEAD: the response has no body */
};

struct http_parser {
	/* Results, valid from the callback named in the comment on. */
	int version_minor;         /* status: 0 or 1 for HTTP/1.0, HTTP/1.1 */
	int status;                /* status: 100-999 */
	char reason[128];          /* status: reason phrase, NUL-terminated, cut to fit */
	int chunked;               /* headers_done: Transfer-Encoding: chunked */
	int64_t content_length;    /* headers_done: -1 when absent */
	int keep_alive;            /* headers_done: connection reusable after this response */
	int until_close;           /* headers_done: body ends when the peer closes */
	uint64_t body_bytes;       /* body bytes passed to the body callback */
	int callback_result;       /* what the stopping callback returned */

	/* Internal state. */
	const struct http_callbacks *cb;
	void *ctx;
	unsigned flags;
	int state;
	int error;
	int in_trailer;
	int seen_close;            /* Connection: close */
	unsigned header_count;
	size_t header_bytes;
	uint64_t remaining;        /* body or chunk bytes still to read */
	size_t line_len;
	int line_cr;               /* the previous byte was CR */
	char line[HTTP_LINE_MAX];
};

void http_parser_init(struct http_parser *p, unsigned flags,
		      const struct http_callbacks *cb, void *ctx);
/* Prepares for the next response on a kept-alive connection. */
void http_parser_reset(struct http_parser *p, unsigned flags);

/* Feeds len bytes.  Returns 0 when all were consumed and more are needed,
 * 1 when the response is complete (*consumed then tells how many bytes
 * belonged to it; the rest belong to the next response), or an
 * http_error.  consumed may be NULL.  After an error or a complete
 * response, further feeds return HTTP_ERROR_STATE until a reset. */
int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed);

/* Reports end of input.  Returns 1 when that ends the response (a body
 * delimited by the connection close, or a response already complete), or
 * HTTP_ERROR_TRUNCATED. */
int http_parser_finish(struct http_parser *p);

/* 1 when the name of length len equals lower_name ignoring ASCII case;
 * lower_name is written in lower case. */
int http_name_is(const char *name, size_t len, const char *lower_name);

#endif
