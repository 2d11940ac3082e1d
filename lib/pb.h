/* Protocol Buffers wire format (https://protobuf.dev/programming-guides/encoding/):
 * a bounds-checked reader over one message and a writer into a caller-owned
 * buffer.  Neither allocates.  Every length is checked against the bytes
 * that remain, so a truncated or hostile message yields PB_ERR_*, never a
 * read past its end. */
#ifndef RDAGENT_PB_H
#define RDAGENT_PB_H

#include <stddef.h>
#include <stdint.h>

enum pb_wire {
	PB_VARINT = 0,
	PB_I64 = 1,
	PB_LEN = 2,
	PB_SGROUP = 3,   /* deprecated groups: skipped with their contents */
	PB_EGROUP = 4,
	PB_I32 = 5,
};

enum {
	PB_ERR_TRUNCATED = -1,  /* a field or length runs past the message end */
	PB_ERR_VARINT = -2,     /* varint longer than 10 bytes */
	PB_ERR_WIRE = -3,       /* wire type 6 or 7, or an unmatched end-group */
	PB_ERR_FIELD = -4,      /* field number 0 or above 2^29 - 1 */
	PB_ERR_NESTING = -5,    /* groups nested deeper than PB_MAX_GROUP_DEPTH */
	PB_ERR_NOSPACE = -6,    /* writer: the buffer is full */
};

#define PB_MAX_GROUP_DEPTH 32

struct pb_reader {
	const uint8_t *p, *end;
};

/* One decoded field.  For PB_LEN, data/len point into the message; for
 * the numeric wire types, value holds the raw bits (varints as uint64,
 * fixed64, fixed32 zero-extended). */
struct pb_field {
	uint32_t number;
	enum pb_wire wire;
	uint64_t value;
	const uint8_t *data;
	size_t len;
};

void pb_reader_init(struct pb_reader *r, const void *data, size_t len);
/* Reads the next field; a group (wire type 3) is skipped whole and the
 * field after it is returned.  Returns 1 with *f set, 0 at the end of the
 * message, or a PB_ERR_ value. */
int pb_next(struct pb_reader *r, struct pb_field *f);
const char *pb_strerror(int err);

/* Copies a PB_LEN field into out as a NUL-terminated string.  Returns the
 * length, or -1 when the field is not length-delimited or does not fit. */
int pb_field_string(const struct pb_field *f, char *out, size_t size);

struct pb_writer {
	uint8_t *buf;
	size_t size, len;
	int overflow;   /* set once a put did not fit; later puts do nothing */
};

void pb_writer_init(struct pb_writer *w, void *buf, size_t size);
void pb_put_varint_field(struct pb_writer *w, uint32_t number, uint64_t value);
void pb_put_bytes_field(struct pb_writer *w, uint32_t number, const void *data, size_t len);
void pb_put_string_field(struct pb_writer *w, uint32_t number, const char *s);
/* Returns the encoded length, or PB_ERR_NOSPACE when a put overflowed. */
int pb_writer_finish(const struct pb_writer *w);

/* Encodes value as a varint into out (at least 10 bytes); returns the length. */
size_t pb_encode_varint(uint8_t *out, uint64_t value);

#endif
