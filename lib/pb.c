/* Protocol Buffers wire reader and writer; see lib/pb.h. */
#include <string.h>

#include "pb.h"

static int read_varint(struct pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (r->p >= r->end)
			return PB_ERR_TRUNCATED;
		uint8_t b = *r->p++;

		/* The 10th byte may carry only bit 63. */
		if (shift == 63 && b > 1)
			return PB_ERR_VARINT;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return PB_ERR_VARINT;
}

static int read_tag(struct pb_reader *r, uint32_t *number, enum pb_wire *wire)
{
	uint64_t tag;
	int err = read_varint(r, &tag);

	if (err)
		return err;
	if (tag >> 32)
		return PB_ERR_FIELD;
	*number = (uint32_t)(tag >> 3);
	*wire = (enum pb_wire)(tag & 7);
	if (*number == 0 || *number > 0x1fffffff)
		return PB_ERR_FIELD;
	return 0;
}

/* Reads the payload of one field whose tag was read. */
static int read_payload(struct pb_reader *r, struct pb_field *f)
{
	uint64_t len;
	int err;

	f->value = 0;
	f->data = NULL;
	f->len = 0;
	switch (f->wire) {
	case PB_VARINT:
		return read_varint(r, &f->value);
	case PB_I64:
		if (r->end - r->p < 8)
			return PB_ERR_TRUNCATED;
		for (int i = 7; i >= 0; i--)
			f->value = f->value << 8 | r->p[i];
		r->p += 8;
		return 0;
	case PB_I32:
		if (r->end - r->p < 4)
			return PB_ERR_TRUNCATED;
		for (int i = 3; i >= 0; i--)
			f->value = f->value << 8 | r->p[i];
		r->p += 4;
		return 0;
	case PB_LEN:
		err = read_varint(r, &len);
		if (err)
			return err;
		if (len > (uint64_t)(r->end - r->p))
			return PB_ERR_TRUNCATED;
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 0;
	default:
		return PB_ERR_WIRE;
	}
}

/* Skips a group's fields up to its matching end-group tag. */
static int skip_group(struct pb_reader *r, uint32_t number)
{
	uint32_t open[PB_MAX_GROUP_DEPTH];
	unsigned depth = 0;
	struct pb_field f;
	int err;

	open[depth++] = number;
	while (depth) {
		err = read_tag(r, &f.number, &f.wire);
		if (err)
			return err;
		if (f.wire == PB_SGROUP) {
			if (depth == PB_MAX_GROUP_DEPTH)
				return PB_ERR_NESTING;
			open[depth++] = f.number;
		} else if (f.wire == PB_EGROUP) {
			if (open[depth - 1] != f.number)
				return PB_ERR_WIRE;
			depth--;
		} else {
			err = read_payload(r, &f);
			if (err)
				return err;
		}
	}
	return 0;
}

/* see lib/pb.h */
void pb_reader_init(struct pb_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->end = r->p + len;
}

/* see lib/pb.h */
int pb_next(struct pb_reader *r, struct pb_field *f)
{
	int err;

	for (;;) {
		if (r->p >= r->end)
			return 0;
		err = read_tag(r, &f->number, &f->wire);
		if (err)
			return err;
		if (f->wire == PB_EGROUP)
			return PB_ERR_WIRE;
		if (f->wire != PB_SGROUP)
			break;
		err = skip_group(r, f->number);
		if (err)
			return err;
	}
	err = read_payload(r, f);
	return err ? err : 1;
}

/* see lib/pb.h */
const char *pb_strerror(int err)
{
	switch (err) {
	case PB_ERR_TRUNCATED: return "field runs past the end of the message";
	case PB_ERR_VARINT: return "varint longer than 10 bytes";
	case PB_ERR_WIRE: return "invalid wire type or unmatched end-group";
	case PB_ERR_FIELD: return "invalid field number";
	case PB_ERR_NESTING: return "groups nested too deep";
	case PB_ERR_NOSPACE: return "message does not fit in the buffer";
	default: return "unknown protobuf error";
	}
}

/* see lib/pb.h */
int pb_field_string(const struct pb_field *f, char *out, size_t size)
{
	if (f->wire != PB_LEN || f->len >= size)
		return -1;
	memcpy(out, f->data, f->len);
	out[f->len] = 0;
	return (int)f->len;
}

/* see lib/pb.h */
size_t pb_encode_varint(uint8_t *out, uint64_t value)
{
	size_t n = 0;

	while (value >= 0x80) {
		out[n++] = (uint8_t)(value | 0x80);
		value >>= 7;
	}
	out[n++] = (uint8_t)value;
	return n;
}

/* see lib/pb.h */
void pb_writer_init(struct pb_writer *w, void *buf, size_t size)
{
	w->buf = buf;
	w->size = size;
	w->len = 0;
	w->overflow = 0;
}

static void put_raw(struct pb_writer *w, const void *data, size_t len)
{
	if (w->overflow || len > w->size - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

static void put_varint(struct pb_writer *w, uint64_t value)
{
	uint8_t tmp[10];

	put_raw(w, tmp, pb_encode_varint(tmp, value));
}

/* see lib/pb.h */
void pb_put_varint_field(struct pb_writer *w, uint32_t number, uint64_t value)
{
	put_varint(w, (uint64_t)number << 3 | PB_VARINT);
	put_varint(w, value);
}

/* see lib/pb.h */
void pb_put_bytes_field(struct pb_writer *w, uint32_t number, const void *data, size_t len)
{
	put_varint(w, (uint64_t)number << 3 | PB_LEN);
	put_varint(w, len);
	put_raw(w, data, len);
}

/* see lib/pb.h */
void pb_put_string_field(struct pb_writer *w, uint32_t number, const char *s)
{
	pb_put_bytes_field(w, number, s, strlen(s));
}

/* see lib/pb.h */
int pb_writer_finish(const struct pb_writer *w)
{
	return w->overflow ? PB_ERR_NOSPACE : (int)w->len;
}
