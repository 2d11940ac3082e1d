/* libFuzzer target for lib/pem and the DER walk in lib/tls: base64 and
 * PEM decoding must agree with their own length bounds, and the
 * subjectAltName reader must accept or reject any bytes without reading
 * outside them. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pem.h"
#include "tls.h"

static void count_names(void *ctx, char type, const uint8_t *value, size_t len)
{
	(*(size_t *)ctx) += len + (type == 'D' ? 0 : 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t max = base64_decoded_max(size), pos = 0, total = 0;
	uint8_t *out = malloc(max ? max : 1);
	struct pem_block blk;
	long n;
	int r;

	n = base64_decode(text, size, out, max);
	if (n == -ENOSPC || n > (long)max)
		__builtin_trap();
	while ((r = pem_next(text, size, &pos, &blk)) == 1) {
		if (blk.body < text || blk.body + blk.body_len > text + size || pos > size)
			__builtin_trap();
		n = pem_decode(&blk, out, max);
		if (n > 0)
			tls_cert_san(out, (size_t)n, count_names, &total);
	}
	tls_cert_san(data, size, count_names, &total);
	free(out);
	return 0;
}
