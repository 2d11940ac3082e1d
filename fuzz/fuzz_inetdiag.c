/* libFuzzer target for the inet_diag reply parser: the input is one
 * received netlink datagram, answering sequence number 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "inetdiag.h"

static void on_socket(void *ctx, const struct inetdiag_socket *s)
{
	if (s->family != AF_INET && s->family != AF_INET6)
		abort();
	if (s->v6only < -1 || s->v6only > 1)
		abort();
	++*(unsigned long *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long count = 0;
	/* A copy at the start of a malloc'd block, so ASan sees reads past it. */
	uint8_t *copy = malloc(size ? size : 1);
	int r;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = inetdiag_parse(copy, size, 1, on_socket, &count);
	if (r > 1)
		abort();
	free(copy);
	return 0;
}
