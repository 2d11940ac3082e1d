/* see lib/pem.h */
#include "pem.h"

#include <errno.h>
#include <string.h>

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* see lib/pem.h */
long base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
	uint32_t acc = 0;
	unsigned bits = 0, quantum = 0, padding = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (is_space(c))
			continue;
		if (c == '=') {
			/* Padding ends the data: "xx==" or "xxx=" only. */
			if (quantum < 2)
				return -EINVAL;
			padding++;
			quantum++;
			if (quantum == 4) {
				quantum = 0;
				if (padding == 2 && bits != 4)
					return -EINVAL;
			}
			continue;
		}
		if (padding)
			return -EINVAL;
		v = base64_value(c);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		quantum = (quantum + 1) % 4;
		if (bits >= 8) {
			bits -= 8;
			if (n >= out_size)
				return -ENOSPC;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (padding && quantum != 0)
		return -EINVAL;
	/* A lone final character carries 6 bits, less than one byte. */
	if (quantum == 1)
		return -EINVAL;
	return (long)n;
}

/* Returns the end of the line that starts at pos (the index of '\n' or len). */
static size_t line_end(const char *text, size_t len, size_t pos)
{
	const char *nl = memchr(text + pos, '\n', len - pos);

	return nl ? (size_t)(nl - text) : len;
}

/* Matches "-----WORD LABEL-----" with optional trailing whitespace on the
 * line [start, end); copies LABEL.  Returns 1 on a match. */
static int match_boundary(const char *text, size_t start, size_t end, const char *word,
			  char *label, size_t label_size)
{
	size_t wlen = strlen(word), llen;
	const char *p = text + start;

	while (end > start && is_space((unsigned char)text[end - 1]))
		end--;
	if (end - start < 10 + wlen + 1 || memcmp(p, "-----", 5) ||
	    memcmp(p + 5, word, wlen) || p[5 + wlen] != ' ' ||
	    memcmp(text + end - 5, "-----", 5))
		return 0;
	llen = end - start - 10 - wlen - 1;
	if (llen >= label_size)
		return -1;
	memcpy(label, p + 6 + wlen, llen);
	label[llen] = '\0';
	return 1;
}

/* see lib/pem.h */
int pem_next(const char *text, size_t len, size_t *pos, struct pem_block *blk)
{
	size_t p = *pos, line = 1;

	for (size_t i = 0; i < p && i < len; i++)
		line += text[i] == '\n';
	while (p < len) {
		size_t end = line_end(text, len, p);
		int m = match_boundary(text, p, end, "BEGIN", blk->label, sizeof(blk->label));

		if (m < 0)
			return -EINVAL;
		if (m == 1) {
			char end_label[sizeof(blk->label)];
			size_t q = end < len ? end + 1 : len;

			blk->line = line;
			blk->body = text + q;
			while (q < len) {
				size_t e = line_end(text, len, q);

				if (match_boundary(text, q, e, "END", end_label, sizeof(end_label)) == 1) {
					if (strcmp(end_label, blk->label))
						return -EINVAL;
					blk->body_len = (size_t)(text + q - blk->body);
					*pos = e < len ? e + 1 : len;
					return 1;
				}
				/* RFC 1421 encapsulated headers mean an encrypted
				 * key, which needs a passphrase we never have. */
				if (memchr(text + q, ':', e - q))
					return -EINVAL;
				q = e < len ? e + 1 : len;
			}
			return -EINVAL;
		}
		p = end < len ? end + 1 : len;
		line++;
	}
	*pos = len;
	return 0;
}

/* see lib/pem.h */
long pem_decode(const struct pem_block *blk, uint8_t *out, size_t out_size)
{
	return base64_decode(blk->body, blk->body_len, out, out_size);
}
