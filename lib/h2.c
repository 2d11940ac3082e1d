/* HTTP/2 client connection; see lib/h2.h.  Section numbers are RFC 9113. */
#include <string.h>

#include "h2.h"

#define FLAG_END_STREAM 0x1
#define FLAG_ACK 0x1
#define FLAG_END_HEADERS 0x4
#define FLAG_PADDED 0x8
#define FLAG_PRIORITY 0x20

#define SETTINGS_HEADER_TABLE_SIZE 1
#define SETTINGS_ENABLE_PUSH 2
#define SETTINGS_MAX_CONCURRENT_STREAMS 3
#define SETTINGS_INITIAL_WINDOW_SIZE 4
#define SETTINGS_MAX_FRAME_SIZE 5
#define SETTINGS_MAX_HEADER_LIST_SIZE 6

#define WINDOW_MAX 0x7fffffff
#define DEFAULT_WINDOW 65535

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Appends a frame (4.1) to the output; returns 0 or H2_ERR_NOSPACE. */
static int queue_frame(struct h2_conn *conn, uint8_t type, uint8_t flags, uint32_t stream,
		       const void *payload, size_t len)
{
	uint8_t *p;

	if (len > sizeof conn->out - conn->out_len ||
	    H2_FRAME_HEADER_LEN > sizeof conn->out - conn->out_len - len)
		return H2_ERR_NOSPACE;
	p = conn->out + conn->out_len;
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	put32(p + 5, stream & 0x7fffffff);
	if (len)
		memcpy(p + H2_FRAME_HEADER_LEN, payload, len);
	conn->out_len += H2_FRAME_HEADER_LEN + len;
	return 0;
}

static int queue_window_update(struct h2_conn *conn, uint32_t stream, uint32_t increment)
{
	uint8_t p[4];

	put32(p, increment);
	return queue_frame(conn, H2_WINDOW_UPDATE, 0, stream, p, 4);
}

/* Queues GOAWAY for a connection error (5.4.1) and returns err. */
static int connection_error(struct h2_conn *conn, int err, uint32_t code, const char *reason)
{
	uint8_t p[8];

	conn->reason = reason;
	put32(p, conn->next_stream_id > 1 ? conn->next_stream_id - 2 : 0);
	put32(p + 4, code);
	queue_frame(conn, H2_GOAWAY, 0, 0, p, sizeof p);
	return err;
}

static struct h2_stream *find_stream(struct h2_conn *conn, uint32_t id)
{
	for (unsigned i = 0; i < H2_MAX_STREAMS; i++)
		if (conn->streams[i].id == id && id)
			return &conn->streams[i];
	return NULL;
}

/* A stream id we never opened is "idle"; frames on it other than
 * PRIORITY are a connection error (5.1).  Closed ids are ignored. */
static int stream_is_idle(const struct h2_conn *conn, uint32_t id)
{
	return (id & 1) == 0 || id >= conn->next_stream_id;
}

/* see lib/h2.h */
void h2_init(struct h2_conn *conn)
{
	uint8_t settings[3 * 6];
	static const struct { uint16_t id; uint32_t value; } ours[] = {
		{ SETTINGS_ENABLE_PUSH, 0 },
		{ SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ SETTINGS_HEADER_TABLE_SIZE, HPACK_TABLE_MAX },
	};

	conn->head_len = 0;
	conn->payload_len = 0;
	conn->block_len = 0;
	conn->block_stream = 0;
	conn->out_len = 0;
	conn->got_settings = 0;
	conn->peer_max_frame = H2_FRAME_MAX;
	conn->peer_initial_window = DEFAULT_WINDOW;
	conn->conn_send_window = DEFAULT_WINDOW;
	conn->conn_recv_window = H2_CONN_WINDOW;
	conn->conn_recv_unacked = 0;
	conn->next_stream_id = 1;
	conn->goaway = 0;
	conn->reason = NULL;
	memset(conn->streams, 0, sizeof conn->streams);
	hpack_decoder_init(&conn->hpack, HPACK_TABLE_MAX);

	memcpy(conn->out, H2_PREFACE, sizeof H2_PREFACE - 1);
	conn->out_len = sizeof H2_PREFACE - 1;
	for (unsigned i = 0; i < 3; i++) {
		settings[i * 6] = (uint8_t)(ours[i].id >> 8);
		settings[i * 6 + 1] = (uint8_t)ours[i].id;
		put32(settings + i * 6 + 2, ours[i].value);
	}
	queue_frame(conn, H2_SETTINGS, 0, 0, settings, sizeof settings);
	queue_window_update(conn, 0, H2_CONN_WINDOW - DEFAULT_WINDOW);
}

/* see lib/h2.h */
void h2_output_consume(struct h2_conn *conn, size_t n)
{
	if (n >= conn->out_len) {
		conn->out_len = 0;
		return;
	}
	memmove(conn->out, conn->out + n, conn->out_len - n);
	conn->out_len -= n;
}

/* see lib/h2.h */
unsigned h2_open_streams(const struct h2_conn *conn)
{
	unsigned n = 0;

	for (unsigned i = 0; i < H2_MAX_STREAMS; i++)
		n += conn->streams[i].id != 0;
	return n;
}

/* see lib/h2.h */
int64_t h2_request(struct h2_conn *conn, const char *authority, const char *path,
		   const struct h2_header *headers, size_t header_count,
		   const void *body, size_t body_len)
{
	uint8_t block[2048];
	size_t pos = 0;
	struct h2_stream *s = NULL;
	size_t need;
	int err = 0;

	if (conn->goaway)
		return H2_ERR_GOAWAY;
	if (conn->next_stream_id > WINDOW_MAX)
		return H2_ERR_STREAMS;
	for (unsigned i = 0; i < H2_MAX_STREAMS && !s; i++)
		if (!conn->streams[i].id)
			s = &conn->streams[i];
	if (!s)
		return H2_ERR_STREAMS;
	/* Request body in one DATA frame, within both send windows (6.9). */
	if (body_len > conn->peer_max_frame)
		return H2_ERR_NOSPACE;
	if ((int64_t)body_len > conn->conn_send_window ||
	    (int64_t)body_len > (int64_t)conn->peer_initial_window)
		return H2_ERR_FLOW;

	err |= hpack_encode_header(block, sizeof block, &pos, ":method", "POST");
	err |= hpack_encode_header(block, sizeof block, &pos, ":scheme", "http");
	err |= hpack_encode_header(block, sizeof block, &pos, ":path", path);
	err |= hpack_encode_header(block, sizeof block, &pos, ":authority", authority);
	for (size_t i = 0; i < header_count && !err; i++)
		err |= hpack_encode_header(block, sizeof block, &pos, headers[i].name, headers[i].value);
	if (err || pos > conn->peer_max_frame)
		return H2_ERR_NOSPACE;
	need = 2 * H2_FRAME_HEADER_LEN + pos + body_len;
	if (need > sizeof conn->out - conn->out_len)
		return H2_ERR_NOSPACE;

	memset(s, 0, sizeof *s);
	s->id = conn->next_stream_id;
	conn->next_stream_id += 2;
	s->send_window = conn->peer_initial_window - (int64_t)body_len;
	s->recv_window = H2_STREAM_WINDOW;
	conn->conn_send_window -= (int64_t)body_len;
	queue_frame(conn, H2_HEADERS, FLAG_END_HEADERS, s->id, block, pos);
	queue_frame(conn, H2_DATA, FLAG_END_STREAM, s->id, body, body_len);
	return s->id;
}

/* see lib/h2.h */
void h2_reset_stream(struct h2_conn *conn, uint32_t stream, uint32_t error_code)
{
	struct h2_stream *s = find_stream(conn, stream);
	uint8_t p[4];

	if (!s)
		return;
	put32(p, error_code);
	queue_frame(conn, H2_RST_STREAM, 0, stream, p, 4);
	s->id = 0;
}

/* see lib/h2.h */
void h2_goaway(struct h2_conn *conn, uint32_t error_code)
{
	uint8_t p[8];

	put32(p, 0);
	put32(p + 4, error_code);
	queue_frame(conn, H2_GOAWAY, 0, 0, p, sizeof p);
}

struct header_ctx {
	struct h2_conn *conn;
	uint32_t stream;
	int trailers;
	int deliver;
	h2_event_cb *cb;
	void *ctx;
};

static int on_hpack_header(void *arg, const char *name, size_t name_len,
			   const char *value, size_t value_len)
{
	struct header_ctx *hc = arg;
	struct h2_event ev = { .type = H2_EV_HEADER, .stream = hc->stream,
			       .trailers = hc->trailers, .name = name, .name_len = name_len,
			       .value = value, .value_len = value_len };

	if (!hc->deliver)
		return 0;
	return hc->cb(hc->ctx, &ev);
}

/* Ends a stream the peer closed and reports it. */
static int end_stream(struct h2_conn *conn, struct h2_stream *s, h2_event_cb *cb, void *ctx)
{
	struct h2_event ev = { .type = H2_EV_END_STREAM, .stream = s->id };

	s->id = 0;
	return cb(ctx, &ev) ? H2_ERR_CALLBACK : 0;
}

/* Decodes a complete header block.  HPACK state is shared by the whole
 * connection, so blocks of closed streams are decoded too (4.3). */
static int finish_header_block(struct h2_conn *conn, h2_event_cb *cb, void *ctx)
{
	struct h2_stream *s = find_stream(conn, conn->block_stream);
	struct header_ctx hc = { conn, conn->block_stream, s && s->got_headers, s != NULL, cb, ctx };
	int end = conn->block_end_stream;
	int err;

	conn->block_stream = 0;
	err = hpack_decode(&conn->hpack, conn->block, conn->block_len, on_hpack_header, &hc);
	conn->block_len = 0;
	if (err == HPACK_ERR_CALLBACK)
		return H2_ERR_CALLBACK;
	if (err) {
		connection_error(conn, H2_ERR_COMPRESSION, H2_COMPRESSION_ERROR, hpack_strerror(err));
		return H2_ERR_COMPRESSION;
	}
	if (!s)
		return 0;
	struct h2_event ev = { .type = H2_EV_HEADERS_DONE, .stream = s->id,
			       .trailers = s->got_headers };

	s->got_headers = 1;
	if (cb(ctx, &ev))
		return H2_ERR_CALLBACK;
	/* The callback may have reset the stream. */
	if (end && s->id == hc.stream)
		return end_stream(conn, s, cb, ctx);
	return 0;
}

static int append_fragment(struct h2_conn *conn, const uint8_t *p, size_t len)
{
	if (len > sizeof conn->block - conn->block_len)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_ENHANCE_YOUR_CALM,
					"header block larger than the limit");
	memcpy(conn->block + conn->block_len, p, len);
	conn->block_len += len;
	return 0;
}

/* Strips padding (6.1, 6.2); returns 0 or a protocol error. */
static int strip_padding(struct h2_conn *conn, const uint8_t **p, size_t *len)
{
	size_t pad;

	if (!(conn->frame_flags & FLAG_PADDED))
		return 0;
	if (*len < 1)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "padded frame without pad length");
	pad = (*p)[0];
	(*p)++;
	(*len)--;
	if (pad > *len)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "padding longer than the frame");
	*len -= pad;
	return 0;
}

static int handle_data(struct h2_conn *conn, h2_event_cb *cb, void *ctx)
{
	const uint8_t *p = conn->payload;
	size_t len = conn->frame_len;
	struct h2_stream *s;
	int err;

	if (conn->frame_stream == 0)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "DATA on stream 0");
	if (stream_is_idle(conn, conn->frame_stream))
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "DATA on an idle stream");
	/* The whole frame, padding included, counts against the windows (6.9.1). */
	conn->conn_recv_window -= conn->frame_len;
	if (conn->conn_recv_window < 0)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_FLOW_CONTROL_ERROR, "connection receive window exceeded");
	conn->conn_recv_unacked += conn->frame_len;
	if (conn->conn_recv_unacked >= H2_CONN_WINDOW / 4) {
		if (queue_window_update(conn, 0, conn->conn_recv_unacked))
			return H2_ERR_NOSPACE;
		conn->conn_recv_window += conn->conn_recv_unacked;
		conn->conn_recv_unacked = 0;
	}
	err = strip_padding(conn, &p, &len);
	if (err)
		return err;
	s = find_stream(conn, conn->frame_stream);
	if (!s)
		return 0;   /* a stream we reset or that ended: ignored (5.1) */
	s->recv_window -= conn->frame_len;
	if (s->recv_window < 0) {
		h2_reset_stream(conn, s->id, H2_FLOW_CONTROL_ERROR);
		struct h2_event ev = { .type = H2_EV_RESET, .stream = conn->frame_stream,
				       .error_code = H2_FLOW_CONTROL_ERROR };
		return cb(ctx, &ev) ? H2_ERR_CALLBACK : 0;
	}
	if (len) {
		struct h2_event ev = { .type = H2_EV_DATA, .stream = s->id, .data = p, .len = len };

		if (cb(ctx, &ev))
			return H2_ERR_CALLBACK;
		if (s->id != conn->frame_stream)
			return 0;
	}
	if (conn->frame_flags & FLAG_END_STREAM)
		return end_stream(conn, s, cb, ctx);
	s->recv_unacked += conn->frame_len;
	if (s->recv_unacked >= H2_STREAM_WINDOW / 4) {
		if (queue_window_update(conn, s->id, s->recv_unacked))
			return H2_ERR_NOSPACE;
		s->recv_window += s->recv_unacked;
		s->recv_unacked = 0;
	}
	return 0;
}

static int handle_headers(struct h2_conn *conn, h2_event_cb *cb, void *ctx)
{
	const uint8_t *p = conn->payload;
	size_t len = conn->frame_len;
	int err;

	if (conn->frame_stream == 0)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "HEADERS on stream 0");
	if (stream_is_idle(conn, conn->frame_stream))
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "HEADERS on an idle stream");
	err = strip_padding(conn, &p, &len);
	if (err)
		return err;
	if (conn->frame_flags & FLAG_PRIORITY) {
		if (len < 5)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "HEADERS too short for its priority");
		p += 5;
		len -= 5;
	}
	conn->block_len = 0;
	err = append_fragment(conn, p, len);
	if (err)
		return err;
	conn->block_end_stream = conn->frame_flags & FLAG_END_STREAM;
	conn->block_stream = conn->frame_stream;
	if (conn->frame_flags & FLAG_END_HEADERS)
		return finish_header_block(conn, cb, ctx);
	return 0;
}

static int handle_settings(struct h2_conn *conn)
{
	const uint8_t *p = conn->payload;

	if (conn->frame_stream != 0)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "SETTINGS on a stream");
	if (conn->frame_flags & FLAG_ACK) {
		if (conn->frame_len != 0)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
		return 0;
	}
	if (conn->frame_len % 6)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6");
	for (size_t i = 0; i < conn->frame_len; i += 6) {
		uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
		uint32_t value = get32(p + i + 2);

		switch (id) {
		case SETTINGS_ENABLE_PUSH:
			if (value > 1)
				return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "invalid SETTINGS_ENABLE_PUSH");
			break;
		case SETTINGS_INITIAL_WINDOW_SIZE:
			if (value > WINDOW_MAX)
				return connection_error(conn, H2_ERR_PROTOCOL, H2_FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE too large");
			/* 6.9.2: the change applies to every open stream. */
			for (unsigned j = 0; j < H2_MAX_STREAMS; j++) {
				struct h2_stream *s = &conn->streams[j];

				if (!s->id)
					continue;
				s->send_window += (int64_t)value - conn->peer_initial_window;
				if (s->send_window > WINDOW_MAX)
					return connection_error(conn, H2_ERR_PROTOCOL, H2_FLOW_CONTROL_ERROR, "stream send window overflow");
			}
			conn->peer_initial_window = value;
			break;
		case SETTINGS_MAX_FRAME_SIZE:
			if (value < 16384 || value > 16777215)
				return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "invalid SETTINGS_MAX_FRAME_SIZE");
			conn->peer_max_frame = value;
			break;
		default:
			/* HEADER_TABLE_SIZE only limits an encoder's dynamic
			 * table, and ours uses none; unknown ids are ignored. */
			break;
		}
	}
	conn->got_settings = 1;
	return queue_frame(conn, H2_SETTINGS, FLAG_ACK, 0, NULL, 0);
}

static int handle_window_update(struct h2_conn *conn, h2_event_cb *cb, void *ctx)
{
	uint32_t increment;
	struct h2_stream *s;

	if (conn->frame_len != 4)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "WINDOW_UPDATE length not 4");
	increment = get32(conn->payload) & 0x7fffffff;
	if (conn->frame_stream == 0) {
		if (!increment)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "WINDOW_UPDATE increment 0");
		conn->conn_send_window += increment;
		if (conn->conn_send_window > WINDOW_MAX)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FLOW_CONTROL_ERROR, "connection send window overflow");
		return 0;
	}
	if (stream_is_idle(conn, conn->frame_stream))
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
	s = find_stream(conn, conn->frame_stream);
	if (!s)
		return 0;
	s->send_window += increment;
	if (!increment || s->send_window > WINDOW_MAX) {
		/* A stream error (6.9, 6.9.1). */
		uint32_t code = increment ? H2_FLOW_CONTROL_ERROR : H2_PROTOCOL_ERROR;
		struct h2_event ev = { .type = H2_EV_RESET, .stream = s->id, .error_code = code };

		h2_reset_stream(conn, s->id, code);
		return cb(ctx, &ev) ? H2_ERR_CALLBACK : 0;
	}
	return 0;
}

static int handle_frame(struct h2_conn *conn, h2_event_cb *cb, void *ctx)
{
	const uint8_t *p = conn->payload;

	/* 3.4: the server preface is a SETTINGS frame. */
	if (!conn->got_settings && conn->frame_type != H2_SETTINGS)
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "server preface is not SETTINGS");
	/* 6.10: nothing may interrupt a header block. */
	if (conn->block_stream &&
	    (conn->frame_type != H2_CONTINUATION || conn->frame_stream != conn->block_stream))
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "header block interrupted");

	switch (conn->frame_type) {
	case H2_DATA:
		return handle_data(conn, cb, ctx);
	case H2_HEADERS:
		return handle_headers(conn, cb, ctx);
	case H2_CONTINUATION:
		if (!conn->block_stream)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "unexpected CONTINUATION");
		if (append_fragment(conn, p, conn->frame_len))
			return H2_ERR_PROTOCOL;
		if (conn->frame_flags & FLAG_END_HEADERS)
			return finish_header_block(conn, cb, ctx);
		return 0;
	case H2_PRIORITY:
		if (conn->frame_stream == 0)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "PRIORITY on stream 0");
		if (conn->frame_len != 5)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "PRIORITY length not 5");
		return 0;
	case H2_RST_STREAM: {
		struct h2_stream *s;

		if (conn->frame_stream == 0)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "RST_STREAM on stream 0");
		if (conn->frame_len != 4)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "RST_STREAM length not 4");
		if (stream_is_idle(conn, conn->frame_stream))
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "RST_STREAM on an idle stream");
		s = find_stream(conn, conn->frame_stream);
		if (!s)
			return 0;
		s->id = 0;
		struct h2_event ev = { .type = H2_EV_RESET, .stream = conn->frame_stream,
				       .error_code = get32(p) };

		return cb(ctx, &ev) ? H2_ERR_CALLBACK : 0;
	}
	case H2_SETTINGS:
		return handle_settings(conn);
	case H2_PUSH_PROMISE:
		return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
	case H2_PING:
		if (conn->frame_stream != 0)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "PING on a stream");
		if (conn->frame_len != 8)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "PING length not 8");
		if (conn->frame_flags & FLAG_ACK)
			return 0;
		return queue_frame(conn, H2_PING, FLAG_ACK, 0, p, 8);
	case H2_GOAWAY: {
		if (conn->frame_stream != 0)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_PROTOCOL_ERROR, "GOAWAY on a stream");
		if (conn->frame_len < 8)
			return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes");
		struct h2_event ev = { .type = H2_EV_GOAWAY, .last_stream = get32(p) & 0x7fffffff,
				       .error_code = get32(p + 4), .data = p + 8,
				       .len = conn->frame_len - 8 };

		conn->goaway = 1;
		return cb(ctx, &ev) ? H2_ERR_CALLBACK : 0;
	}
	case H2_WINDOW_UPDATE:
		return handle_window_update(conn, cb, ctx);
	default:
		return 0;   /* 4.1: unknown frame types are ignored */
	}
}

/* see lib/h2.h */
int h2_feed(struct h2_conn *conn, const uint8_t *data, size_t len, h2_event_cb *cb, void *ctx)
{
	while (len) {
		size_t n;

		if (conn->head_len < H2_FRAME_HEADER_LEN) {
			n = H2_FRAME_HEADER_LEN - conn->head_len;
			if (n > len)
				n = len;
			memcpy(conn->head + conn->head_len, data, n);
			conn->head_len += n;
			data += n;
			len -= n;
			if (conn->head_len < H2_FRAME_HEADER_LEN)
				break;
			conn->frame_len = (uint32_t)conn->head[0] << 16 | (uint32_t)conn->head[1] << 8 | conn->head[2];
			conn->frame_type = conn->head[3];
			conn->frame_flags = conn->head[4];
			conn->frame_stream = get32(conn->head + 5) & 0x7fffffff;
			conn->payload_len = 0;
			/* 4.2: a frame above our SETTINGS_MAX_FRAME_SIZE. */
			if (conn->frame_len > H2_FRAME_MAX)
				return connection_error(conn, H2_ERR_PROTOCOL, H2_FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
		}
		n = conn->frame_len - conn->payload_len;
		if (n > len)
			n = len;
		memcpy(conn->payload + conn->payload_len, data, n);
		conn->payload_len += n;
		data += n;
		len -= n;
		if (conn->payload_len < conn->frame_len)
			break;
		conn->head_len = 0;
		int err = handle_frame(conn, cb, ctx);

		if (err)
			return err;
	}
	return 0;
}

/* see lib/h2.h */
const char *h2_strerror(int err)
{
	switch (err) {
	case H2_ERR_PROTOCOL: return "HTTP/2 protocol error";
	case H2_ERR_COMPRESSION: return "HPACK decoding error";
	case H2_ERR_NOSPACE: return "HTTP/2 output buffer full or request too large";
	case H2_ERR_STREAMS: return "no HTTP/2 stream available";
	case H2_ERR_CALLBACK: return "stopped by the caller";
	case H2_ERR_GOAWAY: return "the server sent GOAWAY";
	case H2_ERR_FLOW: return "request exceeds the HTTP/2 send window";
	default: return "unknown HTTP/2 error";
	}
}

/* see lib/h2.h */
const char *h2_error_code_name(uint32_t code)
{
	static const char *const names[] = {
		"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
		"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
		"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
		"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
	};

	return code < sizeof names / sizeof *names ? names[code] : "unknown error code";
}
