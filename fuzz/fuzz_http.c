/* libFuzzer target for the HTTP/1.1 response parser in lib/http.c.
 *
 * The first input byte picks the parser flags and a split step; the rest
 * is the response, fed in pieces of that many bytes and then whole.  Both
 * feeds must agree on the result and on the body bytes they deliver. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

struct sink {
	uint64_t sum;          /* order-sensitive digest of the body bytes */
	uint64_t count;
};

static int on_body(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	for (size_t i = 0; i < len; i++)
		s->sum = s->sum * 31 + (unsigned char)data[i];
	s->count += len;
	return 0;
}

static int on_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	/* Touch every byte so the sanitizers check the bounds. */
	struct sink *s = ctx;

	for (size_t i = 0; i < nlen; i++)
		s->sum += (unsigned char)name[i];
	for (size_t i = 0; i < vlen; i++)
		s->sum += (unsigned char)value[i];
	return 0;
}

static const struct http_callbacks callbacks = {
	.header = on_header, .body = on_body, .trailer = on_header,
};

static int run(const uint8_t *data, size_t size, size_t step, unsigned flags, struct sink *s,
	       struct http_parser *p)
{
	size_t pos = 0, used;
	int r = 0;

	memset(s, 0, sizeof *s);
	http_parser_init(p, flags, &callbacks, s);
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;

		r = http_parser_feed(p, (const char *)data + pos, n, &used);
		if (r != 0) {
			pos += used;
			break;
		}
		pos += n;
	}
	if (r == 0)
		r = http_parser_finish(p);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_parser p;
	struct sink split, whole;
	unsigned flags;
	size_t step;
	int r1, r2;

	if (size < 1)
		return 0;
	flags = data[0] & 1 ? HTTP_PARSE_HEAD : 0;
	step = (data[0] >> 1) + 1;
	data++;
	size--;
	r1 = run(data, size, step, flags, &split, &p);
	r2 = run(data, size, size ? size : 1, flags, &whole, &p);
	if (r1 != r2 || (r1 != HTTP_ERROR_CALLBACK && split.count != whole.count))
		abort();
	if (r1 >= 0 && split.sum != whole.sum)
		abort();
	return 0;
}
