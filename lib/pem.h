/* Base64 (RFC 4648 §4) and PEM (RFC 7468) decoding over caller-owned
 * buffers.  Kubeconfig files carry certificates and keys as base64 of PEM
 * text, so both layers are needed; neither allocates. */
#ifndef RDAGENT_PEM_H
#define RDAGENT_PEM_H

#include <stddef.h>
#include <stdint.h>

/* Decodes base64 text, skipping ASCII whitespace (line breaks in PEM
 * bodies, folded YAML values).  Padding is optional at the very end but,
 * when present, must be complete and last.  Returns the decoded length,
 * -EINVAL for a character outside the alphabet or misplaced padding, or
 * -ENOSPC when out_size is too small.  out may be NULL with out_size 0 to
 * validate only; base64_decoded_max gives a safe out_size. */
long base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size);

static inline size_t base64_decoded_max(size_t len) { return len / 4 * 3 + 3; }

/* One PEM block: "-----BEGIN LABEL-----", base64 body, "-----END LABEL-----". */
struct pem_block {
	char label[64];         /* NUL-terminated, e.g. "CERTIFICATE" */
	const char *body;       /* base64 text between the boundary lines */
	size_t body_len;
	size_t line;            /* 1-based line of the BEGIN boundary */
};

/* Finds the next PEM block at or after *pos in text.  Text outside blocks
 * (explanatory comments, as RFC 7468 §2 allows) is skipped.  Returns 1 with
 * blk filled and *pos after the END line, 0 when no BEGIN line remains, or
 * -EINVAL when a block has no matching END line, a label over 63 bytes, or
 * headers (RFC 1421 "Proc-Type:" style encrypted keys). */
int pem_next(const char *text, size_t len, size_t *pos, struct pem_block *blk);

/* Decodes a block's body into out; same returns as base64_decode. */
long pem_decode(const struct pem_block *blk, uint8_t *out, size_t out_size);

#endif
