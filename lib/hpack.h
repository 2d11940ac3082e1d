/* HPACK header compression for HTTP/2 (RFC 7541).
 *
 * The decoder is complete: static and dynamic tables (sections 2.3, 4),
 * dynamic table size updates (6.3), indexed fields (6.1), every literal
 * form (6.2.1-6.2.3), and Huffman-coded strings (5.2, Appendix B).  It
 * enforces limits instead of allocating: integers above HPACK_INT_MAX,
 * strings longer than HPACK_STRING_MAX, and a table size above the
 * SETTINGS_HEADER_TABLE_SIZE the caller advertised are errors.
 *
 * The encoder writes the few request headers a gRPC client sends, as
 * "literal without indexing" (6.2.2) or static-table references, so it
 * never needs the peer's dynamic table. */
#ifndef RDAGENT_HPACK_H
#define RDAGENT_HPACK_H

#include <stddef.h>
#include <stdint.h>

/* Largest dynamic table this decoder can hold; 4096 is the HTTP/2
 * default SETTINGS_HEADER_TABLE_SIZE (RFC 9113 section 6.5.2). */
#define HPACK_TABLE_MAX 4096
/* Each entry costs its name and value length plus 32 (RFC 7541 4.1). */
#define HPACK_ENTRY_OVERHEAD 32
#define HPACK_MAX_ENTRIES (HPACK_TABLE_MAX / HPACK_ENTRY_OVERHEAD)
/* Longest decoded name or value.  gRPC status messages are the longest
 * values a containerd client sees. */
#define HPACK_STRING_MAX 8192
/* Largest integer accepted (lengths and indexes). */
#define HPACK_INT_MAX (1u << 24)
#define HPACK_STATIC_COUNT 61

enum {
	HPACK_ERR_TRUNCATED = -1,   /* the block ends inside a representation */
	HPACK_ERR_INTEGER = -2,     /* integer above HPACK_INT_MAX */
	HPACK_ERR_INDEX = -3,       /* index 0 or beyond the tables */
	HPACK_ERR_HUFFMAN = -4,     /* invalid code, EOS, or bad padding */
	HPACK_ERR_TOOLONG = -5,     /* string longer than HPACK_STRING_MAX */
	HPACK_ERR_TABLE_SIZE = -6,  /* size update above the limit or misplaced */
	HPACK_ERR_CALLBACK = -7,    /* the header callback returned non-zero */
	HPACK_ERR_NOSPACE = -8,     /* encoder: output buffer too small */
};

struct hpack_entry {
	uint32_t offset;       /* of the name in data; the value follows it */
	uint32_t name_len;
	uint32_t value_len;
};

struct hpack_decoder {
	/* Entries oldest first; index 62 is entries[count - 1]. */
	struct hpack_entry entries[HPACK_MAX_ENTRIES];
	unsigned count;
	size_t size;            /* RFC 7541 4.1 size of the current entries */
	size_t max_size;        /* current maximum, changed by size updates */
	size_t settings_max;    /* SETTINGS_HEADER_TABLE_SIZE we advertised */
	size_t data_end;
	uint8_t data[HPACK_TABLE_MAX];
	char name[HPACK_STRING_MAX];
	char value[HPACK_STRING_MAX];
};

/* Called per decoded header field.  The strings are not NUL-terminated
 * and stay valid only during the call.  Non-zero stops decoding. */
typedef int hpack_header_cb(void *ctx, const char *name, size_t name_len,
			    const char *value, size_t value_len);

/* settings_max is at most HPACK_TABLE_MAX; larger values are clamped. */
void hpack_decoder_init(struct hpack_decoder *d, size_t settings_max);
/* Decodes one complete header block.  Returns 0 or an HPACK_ERR_ value;
 * after an error the table state is undefined and, as RFC 7541 section
 * 2.3.3 and RFC 9113 section 4.3 require, the connection must end. */
int hpack_decode(struct hpack_decoder *d, const uint8_t *block, size_t len,
		 hpack_header_cb *cb, void *ctx);
const char *hpack_strerror(int err);

/* Decodes an integer with an N-bit prefix (5.1) from in; returns the bytes
 * used, or an HPACK_ERR_ value. */
int hpack_decode_int(const uint8_t *in, size_t len, unsigned prefix_bits, uint32_t *value);
/* Decodes Huffman-coded data (5.2); returns the decoded length or an
 * HPACK_ERR_ value (HPACK_ERR_TOOLONG when it exceeds out_size). */
int hpack_huffman_decode(const uint8_t *in, size_t len, char *out, size_t out_size);
/* Huffman-encodes s; returns the encoded length or HPACK_ERR_NOSPACE. */
int hpack_huffman_encode(const char *s, size_t len, uint8_t *out, size_t out_size);

/* Appends one request header to out at *pos: an indexed field when the
 * static table has name and value, else a literal without indexing with
 * a static name index when there is one.  Returns 0 or HPACK_ERR_NOSPACE. */
int hpack_encode_header(uint8_t *out, size_t size, size_t *pos,
			const char *name, const char *value);

#endif
