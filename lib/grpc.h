/* gRPC over HTTP/2 framing (grpc/grpc doc/PROTOCOL-HTTP2.md).  Each
 * message is a 1-byte compressed flag, a 4-byte big-endian length and the
 * message bytes.  The call's status arrives in the trailers grpc-status
 * and grpc-message (percent-encoded), or in the headers of a
 * trailers-only response. */
#ifndef RDAGENT_GRPC_H
#define RDAGENT_GRPC_H

#include <stddef.h>
#include <stdint.h>

#define GRPC_PREFIX_LEN 5

enum {
	GRPC_ERR_TOOBIG = -1,      /* message larger than the reader's buffer */
	GRPC_ERR_COMPRESSED = -2,  /* compressed flag set; we offer no encoding */
	GRPC_ERR_CALLBACK = -3,    /* the message callback returned non-zero */
};

/* gRPC status codes, as carried in grpc-status. */
enum grpc_status {
	GRPC_OK = 0, GRPC_CANCELLED = 1, GRPC_UNKNOWN = 2, GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4, GRPC_NOT_FOUND = 5, GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7, GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9, GRPC_ABORTED = 10, GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12, GRPC_INTERNAL = 13, GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15, GRPC_UNAUTHENTICATED = 16,
};

/* Reassembles messages from DATA chunks into a caller-owned buffer. */
struct grpc_reader {
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_len;
	uint32_t msg_len;
	size_t have;
	uint8_t *buf;
	size_t cap;
};

typedef int grpc_message_cb(void *ctx, const uint8_t *msg, size_t len);

void grpc_reader_init(struct grpc_reader *r, void *buf, size_t cap);
/* Feeds body bytes; calls cb for each complete message.  Returns 0 or a
 * GRPC_ERR_ value. */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t len,
		     grpc_message_cb *cb, void *ctx);
/* 1 when no partial message is buffered. */
int grpc_reader_idle(const struct grpc_reader *r);

/* Writes the 5-byte prefix and msg into out; returns the length or -1. */
int grpc_frame(uint8_t *out, size_t size, const void *msg, size_t len);

/* Parses a grpc-status value; returns the code, or -1 when invalid. */
int grpc_parse_status(const char *s, size_t len);
/* Decodes a percent-encoded grpc-message into out (NUL-terminated, cut to
 * fit); invalid escapes are kept as they are. */
void grpc_percent_decode(const char *s, size_t len, char *out, size_t size);
const char *grpc_status_name(int code);
const char *grpc_strerror(int err);

#endif
