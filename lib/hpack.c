/* HPACK decoder and request-header encoder; see lib/hpack.h. */
#include <string.h>

#include "hpack.h"

/* RFC 7541 Appendix A. */
static const struct {
	const char *name, *value;
} static_table[HPACK_STATIC_COUNT + 1] = {
	{ NULL, NULL },
	{ ":authority", "" }, { ":method", "GET" }, { ":method", "POST" },
	{ ":path", "/" }, { ":path", "/index.html" }, { ":scheme", "http" },
	{ ":scheme", "https" }, { ":status", "200" }, { ":status", "204" },
	{ ":status", "206" }, { ":status", "304" }, { ":status", "400" },
	{ ":status", "404" }, { ":status", "500" }, { "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" }, { "accept-language", "" },
	{ "accept-ranges", "" }, { "accept", "" },
	{ "access-control-allow-origin", "" }, { "age", "" }, { "allow", "" },
	{ "authorization", "" }, { "cache-control", "" },
	{ "content-disposition", "" }, { "content-encoding", "" },
	{ "content-language", "" }, { "content-length", "" },
	{ "content-location", "" }, { "content-range", "" },
	{ "content-type", "" }, { "cookie", "" }, { "date", "" }, { "etag", "" },
	{ "expect", "" }, { "expires", "" }, { "from", "" }, { "host", "" },
	{ "if-match", "" }, { "if-modified-since", "" }, { "if-none-match", "" },
	{ "if-range", "" }, { "if-unmodified-since", "" },
	{ "last-modified", "" }, { "link", "" }, { "location", "" },
	{ "max-forwards", "" }, { "proxy-authenticate", "" },
	{ "proxy-authorization", "" }, { "range", "" }, { "referer", "" },
	{ "refresh", "" }, { "retry-after", "" }, { "server", "" },
	{ "set-cookie", "" }, { "strict-transport-security", "" },
	{ "transfer-encoding", "" }, { "user-agent", "" }, { "vary", "" },
	{ "via", "" }, { "www-authenticate", "" },
};

/* Code length in bits of each symbol, 0-255 and EOS (256), from RFC 7541
 * Appendix B.  The code is canonical: within each length, codes are
 * consecutive in symbol order, and the first code of a length is the last
 * code of the previous length plus one, shifted left.  So the lengths
 * alone define it, and huffman_build derives the codes (the unit test
 * checks several against the RFC's hex column). */
static const uint8_t huffman_len[257] = {
	13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,  /*   0 */
	28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,  /*  16 */
	 6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6,  /*  32 */
	 5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10,  /*  48 */
	13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  /*  64 */
	 7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6,  /*  80 */
	15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,  /*  96 */
	 6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28,  /* 112 */
	20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,  /* 128 */
	24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,  /* 144 */
	22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,  /* 160 */
	21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,  /* 176 */
	26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,  /* 192 */
	19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,  /* 208 */
	20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,  /* 224 */
	26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,  /* 240 */
	30,                                                               /* EOS */
};

#define HUFFMAN_EOS 256
#define HUFFMAN_MAX_BITS 30

/* Canonical decoding tables: codes of length L are first_code[L] ..
 * first_code[L] + count[L] - 1 and map to symbols[offset[L] + i]. */
static struct {
	int built;
	uint32_t first_code[HUFFMAN_MAX_BITS + 1];
	uint16_t count[HUFFMAN_MAX_BITS + 1];
	uint16_t offset[HUFFMAN_MAX_BITS + 1];
	uint16_t symbols[257];
	uint32_t code[257];
} huffman;

static void huffman_build(void)
{
	uint32_t code = 0;
	unsigned n = 0;

	if (huffman.built)
		return;
	for (unsigned len = 1; len <= HUFFMAN_MAX_BITS; len++) {
		code <<= 1;
		huffman.first_code[len] = code;
		huffman.offset[len] = (uint16_t)n;
		for (unsigned sym = 0; sym < 257; sym++) {
			if (huffman_len[sym] != len)
				continue;
			huffman.symbols[n++] = (uint16_t)sym;
			huffman.code[sym] = code++;
			huffman.count[len]++;
		}
	}
	huffman.built = 1;
}

/* see lib/hpack.h */
int hpack_huffman_decode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
	uint32_t code = 0;
	unsigned bits = 0;
	size_t n = 0;

	huffman_build();
	for (size_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			code = code << 1 | ((in[i] >> b) & 1);
			bits++;
			uint32_t rel = code - huffman.first_code[bits];

			if (code >= huffman.first_code[bits] && rel < huffman.count[bits]) {
				unsigned sym = huffman.symbols[huffman.offset[bits] + rel];

				/* RFC 7541 5.2: EOS inside a string is an error. */
				if (sym == HUFFMAN_EOS)
					return HPACK_ERR_HUFFMAN;
				if (n == out_size)
					return HPACK_ERR_TOOLONG;
				out[n++] = (char)sym;
				code = 0;
				bits = 0;
			} else if (bits == HUFFMAN_MAX_BITS) {
				return HPACK_ERR_HUFFMAN;
			}
		}
	}
	/* Padding: fewer than 8 bits, all ones (the most significant bits of
	 * EOS); anything else is a decoding error (5.2). */
	if (bits > 7 || code != (1u << bits) - 1)
		return HPACK_ERR_HUFFMAN;
	return (int)n;
}

/* see lib/hpack.h */
int hpack_huffman_encode(const char *s, size_t len, uint8_t *out, size_t out_size)
{
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	huffman_build();
	for (size_t i = 0; i < len; i++) {
		unsigned sym = (uint8_t)s[i];

		acc = acc << huffman_len[sym] | huffman.code[sym];
		bits += huffman_len[sym];
		while (bits >= 8) {
			if (n == out_size)
				return HPACK_ERR_NOSPACE;
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits) {
		if (n == out_size)
			return HPACK_ERR_NOSPACE;
		out[n++] = (uint8_t)(acc << (8 - bits) | (0xffu >> bits));
	}
	return (int)n;
}

/* see lib/hpack.h */
int hpack_decode_int(const uint8_t *in, size_t len, unsigned prefix_bits, uint32_t *value)
{
	uint32_t max_prefix = (1u << prefix_bits) - 1;
	uint64_t v;
	size_t i = 1;

	if (len == 0)
		return HPACK_ERR_TRUNCATED;
	v = in[0] & max_prefix;
	if (v < max_prefix) {
		*value = (uint32_t)v;
		return 1;
	}
	for (unsigned shift = 0;; shift += 7) {
		if (i >= len)
			return HPACK_ERR_TRUNCATED;
		/* Stop before the shift could overflow 64 bits. */
		if (shift > 28)
			return HPACK_ERR_INTEGER;
		v += (uint64_t)(in[i] & 0x7f) << shift;
		if (!(in[i++] & 0x80))
			break;
	}
	if (v > HPACK_INT_MAX)
		return HPACK_ERR_INTEGER;
	*value = (uint32_t)v;
	return (int)i;
}

/* see lib/hpack.h */
void hpack_decoder_init(struct hpack_decoder *d, size_t settings_max)
{
	if (settings_max > HPACK_TABLE_MAX)
		settings_max = HPACK_TABLE_MAX;
	d->count = 0;
	d->size = 0;
	d->data_end = 0;
	d->max_size = settings_max;
	d->settings_max = settings_max;
}

static void evict_oldest(struct hpack_decoder *d)
{
	struct hpack_entry *e = &d->entries[0];

	d->size -= e->name_len + e->value_len + HPACK_ENTRY_OVERHEAD;
	memmove(&d->entries[0], &d->entries[1], (d->count - 1) * sizeof *e);
	d->count--;
	if (!d->count)
		d->data_end = 0;
}

static void evict_to(struct hpack_decoder *d, size_t limit)
{
	while (d->size > limit)
		evict_oldest(d);
}

/* Adds name and value (copies in d->name and d->value) as the newest
 * entry, evicting as RFC 7541 4.4 says. */
static void table_insert(struct hpack_decoder *d, size_t name_len, size_t value_len)
{
	size_t need = name_len + value_len;
	struct hpack_entry *e;

	if (need + HPACK_ENTRY_OVERHEAD > d->max_size) {
		evict_to(d, 0);
		return;
	}
	evict_to(d, d->max_size - need - HPACK_ENTRY_OVERHEAD);
	if (d->data_end + need > sizeof d->data) {
		/* Live bytes are contiguous from the oldest entry's offset and
		 * fit with need, because their RFC size is within max_size. */
		uint32_t start = d->count ? d->entries[0].offset : 0;

		memmove(d->data, d->data + start, d->data_end - start);
		d->data_end -= start;
		for (unsigned i = 0; i < d->count; i++)
			d->entries[i].offset -= start;
	}
	e = &d->entries[d->count++];
	e->offset = (uint32_t)d->data_end;
	e->name_len = (uint32_t)name_len;
	e->value_len = (uint32_t)value_len;
	memcpy(d->data + d->data_end, d->name, name_len);
	memcpy(d->data + d->data_end + name_len, d->value, value_len);
	d->data_end += need;
	d->size += need + HPACK_ENTRY_OVERHEAD;
}

/* Copies the name (and value when want_value) of index into the scratch
 * buffers; returns 0 or HPACK_ERR_INDEX. */
static int lookup(struct hpack_decoder *d, uint32_t index, int want_value,
		  size_t *name_len, size_t *value_len)
{
	if (index == 0)
		return HPACK_ERR_INDEX;
	if (index <= HPACK_STATIC_COUNT) {
		*name_len = strlen(static_table[index].name);
		memcpy(d->name, static_table[index].name, *name_len);
		if (want_value) {
			*value_len = strlen(static_table[index].value);
			memcpy(d->value, static_table[index].value, *value_len);
		}
		return 0;
	}
	index -= HPACK_STATIC_COUNT + 1;
	if (index >= d->count)
		return HPACK_ERR_INDEX;
	const struct hpack_entry *e = &d->entries[d->count - 1 - index];

	*name_len = e->name_len;
	memcpy(d->name, d->data + e->offset, e->name_len);
	if (want_value) {
		*value_len = e->value_len;
		memcpy(d->value, d->data + e->offset + e->name_len, e->value_len);
	}
	return 0;
}

/* Decodes a string literal (5.2) into out; returns bytes used. */
static int decode_string(const uint8_t *in, size_t len, char *out, size_t *out_len)
{
	uint32_t slen;
	int n = hpack_decode_int(in, len, 7, &slen);

	if (n < 0)
		return n;
	if (slen > len - (size_t)n)
		return HPACK_ERR_TRUNCATED;
	if (in[0] & 0x80) {
		int r = hpack_huffman_decode(in + n, slen, out, HPACK_STRING_MAX);

		if (r < 0)
			return r;
		*out_len = (size_t)r;
	} else {
		if (slen > HPACK_STRING_MAX)
			return HPACK_ERR_TOOLONG;
		memcpy(out, in + n, slen);
		*out_len = slen;
	}
	return n + (int)slen;
}

/* see lib/hpack.h */
int hpack_decode(struct hpack_decoder *d, const uint8_t *block, size_t len,
		 hpack_header_cb *cb, void *ctx)
{
	size_t pos = 0, name_len = 0, value_len = 0;
	int fields = 0;

	while (pos < len) {
		uint8_t b = block[pos];
		uint32_t index;
		int n, indexing = 0;

		if (b & 0x80) {
			/* 6.1 indexed header field */
			n = hpack_decode_int(block + pos, len - pos, 7, &index);
			if (n < 0)
				return n;
			pos += (size_t)n;
			n = lookup(d, index, 1, &name_len, &value_len);
			if (n < 0)
				return n;
		} else if ((b & 0xe0) == 0x20) {
			/* 6.3 dynamic table size update: only before the first
			 * field of a block (4.2), at most our setting. */
			if (fields)
				return HPACK_ERR_TABLE_SIZE;
			n = hpack_decode_int(block + pos, len - pos, 5, &index);
			if (n < 0)
				return n;
			pos += (size_t)n;
			if (index > d->settings_max)
				return HPACK_ERR_TABLE_SIZE;
			d->max_size = index;
			evict_to(d, d->max_size);
			continue;
		} else {
			/* 6.2.1 with incremental indexing (01xxxxxx, 6-bit
			 * index); 6.2.2 without indexing (0000xxxx) and 6.2.3
			 * never indexed (0001xxxx), both with a 4-bit index. */
			unsigned prefix = (b & 0x40) ? 6 : 4;

			indexing = (b & 0x40) != 0;
			n = hpack_decode_int(block + pos, len - pos, prefix, &index);
			if (n < 0)
				return n;
			pos += (size_t)n;
			if (index) {
				n = lookup(d, index, 0, &name_len, NULL);
			} else {
				if (pos >= len)
					return HPACK_ERR_TRUNCATED;
				n = decode_string(block + pos, len - pos, d->name, &name_len);
				if (n > 0)
					pos += (size_t)n;
			}
			if (n < 0)
				return n;
			if (pos >= len)
				return HPACK_ERR_TRUNCATED;
			n = decode_string(block + pos, len - pos, d->value, &value_len);
			if (n < 0)
				return n;
			pos += (size_t)n;
			if (indexing)
				table_insert(d, name_len, value_len);
		}
		fields++;
		if (cb && cb(ctx, d->name, name_len, d->value, value_len))
			return HPACK_ERR_CALLBACK;
	}
	return 0;
}

/* see lib/hpack.h */
const char *hpack_strerror(int err)
{
	switch (err) {
	case HPACK_ERR_TRUNCATED: return "header block ends inside a field";
	case HPACK_ERR_INTEGER: return "integer too large";
	case HPACK_ERR_INDEX: return "index not in the static or dynamic table";
	case HPACK_ERR_HUFFMAN: return "invalid Huffman code or padding";
	case HPACK_ERR_TOOLONG: return "header name or value too long";
	case HPACK_ERR_TABLE_SIZE: return "invalid dynamic table size update";
	case HPACK_ERR_CALLBACK: return "header rejected";
	case HPACK_ERR_NOSPACE: return "header block does not fit";
	default: return "unknown HPACK error";
	}
}

static int encode_int(uint8_t *out, size_t size, size_t *pos, uint8_t first,
		      unsigned prefix_bits, size_t value)
{
	size_t max_prefix = (1u << prefix_bits) - 1;

	if (*pos >= size)
		return HPACK_ERR_NOSPACE;
	if (value < max_prefix) {
		out[(*pos)++] = (uint8_t)(first | value);
		return 0;
	}
	out[(*pos)++] = (uint8_t)(first | max_prefix);
	value -= max_prefix;
	while (value >= 0x80) {
		if (*pos >= size)
			return HPACK_ERR_NOSPACE;
		out[(*pos)++] = (uint8_t)(value | 0x80);
		value >>= 7;
	}
	if (*pos >= size)
		return HPACK_ERR_NOSPACE;
	out[(*pos)++] = (uint8_t)value;
	return 0;
}

static int encode_raw_string(uint8_t *out, size_t size, size_t *pos, const char *s)
{
	size_t len = strlen(s);

	if (encode_int(out, size, pos, 0, 7, len))
		return HPACK_ERR_NOSPACE;
	if (len > size - *pos)
		return HPACK_ERR_NOSPACE;
	memcpy(out + *pos, s, len);
	*pos += len;
	return 0;
}

/* see lib/hpack.h */
int hpack_encode_header(uint8_t *out, size_t size, size_t *pos,
			const char *name, const char *value)
{
	unsigned name_index = 0;

	for (unsigned i = 1; i <= HPACK_STATIC_COUNT; i++) {
		if (strcmp(static_table[i].name, name))
			continue;
		if (!strcmp(static_table[i].value, value))
			return encode_int(out, size, pos, 0x80, 7, i);
		if (!name_index)
			name_index = i;
	}
	if (encode_int(out, size, pos, 0x00, 4, name_index))
		return HPACK_ERR_NOSPACE;
	if (!name_index && encode_raw_string(out, size, pos, name))
		return HPACK_ERR_NOSPACE;
	return encode_raw_string(out, size, pos, value);
}
