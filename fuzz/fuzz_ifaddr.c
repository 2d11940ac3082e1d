/* libFuzzer target for the RTM_NEWADDR parser (lib/ifaddr.h): the input
 * is one receive buffer of rtnetlink messages, walked by nl_cb_run as a
 * dump reply is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifaddr.h"

static int on_message(const struct nl_hdr *msg, void *ctx)
{
	struct ifaddr_set *set = ctx;
	int r = ifaddr_parse(msg, 1, set);

	if (set->count > PORTMAP_ADDRS_MAX)
		abort();
	return r < 0 ? r : NL_CB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ifaddr_set set;
	/* nl_cb_run reads headers in place: give it aligned memory. */
	uint32_t *buf = malloc(size + 4);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(&set, 0, sizeof set);
	nl_cb_run(buf, size, 0, 0, on_message, &set);
	free(buf);
	return 0;
}
