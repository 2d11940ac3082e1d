/* libFuzzer target: nerdctl port data, both the nerdctl/ports label and
 * network-config.json.  The first byte picks the format. */
#include <stddef.h>
#include <stdint.h>

#include "nerdctl.h"

static jsmntok_t tokens[4096];
static struct nerdctl_port ports[1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *reason;
	int entry;

	if (size < 1)
		return 0;
	nerdctl_parse_ports((const char *)data + 1, size - 1,
			    data[0] & 1 ? NERDCTL_NETWORK_CONFIG_FILE : NERDCTL_LABEL,
			    tokens, 4096, ports, 1024, &reason, &entry);
	return 0;
}
