/* gRPC message framing and status helpers; see lib/grpc.h. */
#include <string.h>

#include "grpc.h"
#include "text.h"

/* see lib/grpc.h */
void grpc_reader_init(struct grpc_reader *r, void *buf, size_t cap)
{
	r->prefix_len = 0;
	r->msg_len = 0;
	r->have = 0;
	r->buf = buf;
	r->cap = cap;
}

/* see lib/grpc.h */
int grpc_reader_idle(const struct grpc_reader *r)
{
	return r->prefix_len == 0;
}

/* see lib/grpc.h */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t len,
		     grpc_message_cb *cb, void *ctx)
{
	while (len) {
		size_t n;

		if (r->prefix_len < GRPC_PREFIX_LEN) {
			n = GRPC_PREFIX_LEN - r->prefix_len;
			if (n > len)
				n = len;
			memcpy(r->prefix + r->prefix_len, data, n);
			r->prefix_len += n;
			data += n;
			len -= n;
			if (r->prefix_len < GRPC_PREFIX_LEN)
				break;
			if (r->prefix[0] != 0)
				return GRPC_ERR_COMPRESSED;
			r->msg_len = (uint32_t)r->prefix[1] << 24 | (uint32_t)r->prefix[2] << 16 |
				     (uint32_t)r->prefix[3] << 8 | r->prefix[4];
			if (r->msg_len > r->cap)
				return GRPC_ERR_TOOBIG;
			r->have = 0;
		}
		n = r->msg_len - r->have;
		if (n > len)
			n = len;
		memcpy(r->buf + r->have, data, n);
		r->have += n;
		data += n;
		len -= n;
		if (r->have < r->msg_len)
			break;
		r->prefix_len = 0;
		if (cb(ctx, r->buf, r->msg_len))
			return GRPC_ERR_CALLBACK;
	}
	return 0;
}

/* see lib/grpc.h */
int grpc_frame(uint8_t *out, size_t size, const void *msg, size_t len)
{
	if (len > 0xffffffffu || size < GRPC_PREFIX_LEN || len > size - GRPC_PREFIX_LEN)
		return -1;
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	memcpy(out + GRPC_PREFIX_LEN, msg, len);
	return (int)(len + GRPC_PREFIX_LEN);
}

/* see lib/grpc.h */
int grpc_parse_status(const char *s, size_t len)
{
	int v = 0;

	if (len == 0 || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* see lib/grpc.h */
void grpc_percent_decode(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	if (!size)
		return;
	for (size_t i = 0; i < len && n + 1 < size; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len && (hi = hex_digit_value(s[i + 1])) >= 0 &&
		    (lo = hex_digit_value(s[i + 2])) >= 0) {
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = 0;
}

/* see lib/grpc.h */
const char *grpc_status_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
		"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	return code >= 0 && code < (int)(sizeof names / sizeof *names) ? names[code] : "UNKNOWN_CODE";
}

/* see lib/grpc.h */
const char *grpc_strerror(int err)
{
	switch (err) {
	case GRPC_ERR_TOOBIG: return "gRPC message larger than the buffer";
	case GRPC_ERR_COMPRESSED: return "compressed gRPC message (no encoding was offered)";
	case GRPC_ERR_CALLBACK: return "gRPC message rejected";
	default: return "unknown gRPC error";
	}
}
