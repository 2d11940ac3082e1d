/* libFuzzer target for the nf_tables rule decoder: the input is a stream
 * of netlink messages as a dump delivers them.  Each message goes through
 * the callback runner, the decoder and the binding builder; the whole
 * input also goes through the event reader as one datagram. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natbind.h"
#include "netlink.h"
#include "nftrule.h"

static const char *const prefixes[] = { "CNI-DN-" };
static const struct natbind_config config = { prefixes, 1, 64 };
static const char *const tables[] = { "nat", NATBIND_NFT_TABLE };

static int on_message(const struct nl_hdr *msg, void *ctx)
{
	struct natbind_set *set = ctx;
	struct nat_rule rule;
	struct natbind_outcome outcome;
	const char *table;
	int family;

	nftrule_msg_table(msg, &family, &table);
	if (nftrule_decode(msg, &rule) == 0)
		natbind_add_rule(set, &config, &rule, &outcome);
	return NL_CB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natbind_set set;
	struct nftrule_watch watch = { .tables = tables, .table_count = 2 };
	/* Copy into aligned memory, as a receive buffer would be. */
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	natbind_set_init(&set);
	nl_cb_run(buf, size, 0, 0, on_message, &set);
	nftrule_watch_datagram(&watch, buf, size);
	natbind_set_finish(&set);
	free(buf);
	natbind_set_free(&set);
	return 0;
}
