/* HTTP/2 client connection (RFC 9113), sans-I/O: the caller feeds the
 * bytes it read with h2_feed and writes out what h2_output returns.  All
 * memory is inside struct h2_conn, so its size bounds every buffer.
 *
 * Scope: cleartext with prior knowledge (section 3.3), client-initiated
 * streams only, request bodies that fit in one DATA frame, and a large
 * receive window that is re-opened as data is consumed, so a long-lived
 * response stream never stalls.  Server push is disabled (ENABLE_PUSH 0),
 * so PUSH_PROMISE is a connection error. */
#ifndef RDAGENT_H2_H
#define RDAGENT_H2_H

#include <stddef.h>
#include <stdint.h>

#include "hpack.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_FRAME_HEADER_LEN 9
/* SETTINGS_MAX_FRAME_SIZE we accept: the protocol minimum and default
 * (6.5.2), so every conforming peer can talk to us. */
#define H2_FRAME_MAX 16384
/* Largest header block (HEADERS plus CONTINUATION fragments). */
#define H2_HEADER_BLOCK_MAX 32768
/* Receive windows we advertise, per stream and for the connection. */
#define H2_STREAM_WINDOW (1u << 20)
#define H2_CONN_WINDOW (1u << 24)
#define H2_MAX_STREAMS 8
#define H2_OUT_MAX 65536

enum h2_frame_type {
	H2_DATA = 0, H2_HEADERS = 1, H2_PRIORITY = 2, H2_RST_STREAM = 3,
	H2_SETTINGS = 4, H2_PUSH_PROMISE = 5, H2_PING = 6, H2_GOAWAY = 7,
	H2_WINDOW_UPDATE = 8, H2_CONTINUATION = 9,
};

/* Error codes of section 7, sent in RST_STREAM and GOAWAY. */
enum h2_error_code {
	H2_NO_ERROR = 0, H2_PROTOCOL_ERROR = 1, H2_INTERNAL_ERROR = 2,
	H2_FLOW_CONTROL_ERROR = 3, H2_SETTINGS_TIMEOUT = 4, H2_STREAM_CLOSED = 5,
	H2_FRAME_SIZE_ERROR = 6, H2_REFUSED_STREAM = 7, H2_CANCEL = 8,
	H2_COMPRESSION_ERROR = 9, H2_CONNECT_ERROR = 10, H2_ENHANCE_YOUR_CALM = 11,
	H2_INADEQUATE_SECURITY = 12, H2_HTTP_1_1_REQUIRED = 13,
};

/* Return values of the functions below (negative). */
enum {
	H2_ERR_PROTOCOL = -1,     /* the peer broke RFC 9113; see h2_conn.reason */
	H2_ERR_COMPRESSION = -2,  /* HPACK decoding failed */
	H2_ERR_NOSPACE = -3,      /* output buffer full, or request too large */
	H2_ERR_STREAMS = -4,      /* no free stream slot or stream ids exhausted */
	H2_ERR_CALLBACK = -5,     /* the event callback returned non-zero */
	H2_ERR_GOAWAY = -6,       /* no new streams after GOAWAY */
	H2_ERR_FLOW = -7,         /* the request body does not fit the send window */
};

enum h2_event_type {
	H2_EV_HEADER,        /* one response header or trailer field */
	H2_EV_HEADERS_DONE,  /* end of a header block */
	H2_EV_DATA,          /* response body bytes */
	H2_EV_END_STREAM,    /* the peer closed the stream; its slot is free */
	H2_EV_RESET,         /* RST_STREAM from the peer; error_code set */
	H2_EV_GOAWAY,        /* last_stream and error_code set */
};

struct h2_event {
	enum h2_event_type type;
	uint32_t stream;
	int trailers;               /* HEADER, HEADERS_DONE: second block */
	const char *name, *value;   /* HEADER; not NUL-terminated */
	size_t name_len, value_len;
	const uint8_t *data;        /* DATA; GOAWAY debug data */
	size_t len;
	uint32_t error_code;        /* RESET, GOAWAY */
	uint32_t last_stream;       /* GOAWAY */
};

/* Non-zero stops h2_feed with H2_ERR_CALLBACK.  The callback may start
 * requests and reset streams. */
typedef int h2_event_cb(void *ctx, const struct h2_event *ev);

struct h2_stream {
	uint32_t id;             /* 0: slot free */
	int got_headers;         /* the next header block holds trailers */
	int64_t send_window;
	int64_t recv_window;
	uint32_t recv_unacked;   /* consumed bytes not yet returned by WINDOW_UPDATE */
};

struct h2_conn {
	/* Frame being read. */
	uint8_t head[H2_FRAME_HEADER_LEN];
	size_t head_len;
	uint32_t frame_len;
	uint8_t frame_type, frame_flags;
	uint32_t frame_stream;
	uint8_t payload[H2_FRAME_MAX];
	size_t payload_len;

	/* Header block being assembled from HEADERS and CONTINUATION. */
	uint8_t block[H2_HEADER_BLOCK_MAX];
	size_t block_len;
	uint32_t block_stream;    /* 0 when no CONTINUATION is expected */
	int block_end_stream;
	struct hpack_decoder hpack;

	uint8_t out[H2_OUT_MAX];
	size_t out_len;

	int got_settings;         /* the server preface (a SETTINGS frame) arrived */
	uint32_t peer_max_frame;
	uint32_t peer_initial_window;
	int64_t conn_send_window;
	int64_t conn_recv_window;
	uint32_t conn_recv_unacked;
	uint32_t next_stream_id;
	int goaway;               /* GOAWAY received */
	struct h2_stream streams[H2_MAX_STREAMS];
	const char *reason;       /* why the last H2_ERR_PROTOCOL happened */
};

/* Resets conn and queues the client preface: the magic string, SETTINGS
 * and a connection WINDOW_UPDATE. */
void h2_init(struct h2_conn *conn);
/* Processes received bytes, calling cb for each event.  Returns 0 or an
 * H2_ERR_ value; after an error the connection is unusable, and a GOAWAY
 * that names the error may be queued for output. */
int h2_feed(struct h2_conn *conn, const uint8_t *data, size_t len, h2_event_cb *cb, void *ctx);

/* Bytes waiting to be sent. */
static inline const uint8_t *h2_output(const struct h2_conn *conn, size_t *len)
{
	*len = conn->out_len;
	return conn->out;
}
/* Drops the first n bytes of the output after they were written. */
void h2_output_consume(struct h2_conn *conn, size_t n);

struct h2_header {
	const char *name, *value;
};

/* Queues a POST request to path with the extra headers and body as one
 * HEADERS and one DATA frame with END_STREAM.  Returns the new stream id,
 * or an H2_ERR_ value. */
int64_t h2_request(struct h2_conn *conn, const char *authority, const char *path,
		   const struct h2_header *headers, size_t header_count,
		   const void *body, size_t body_len);
/* Queues RST_STREAM for an open stream and frees its slot. */
void h2_reset_stream(struct h2_conn *conn, uint32_t stream, uint32_t error_code);
/* Queues GOAWAY (for a clean close). */
void h2_goaway(struct h2_conn *conn, uint32_t error_code);

const char *h2_strerror(int err);
const char *h2_error_code_name(uint32_t code);
/* Returns the number of open streams. */
unsigned h2_open_streams(const struct h2_conn *conn);

#endif
