/* libFuzzer target for the iptables-save text parser: the input is split
 * into lines, each parsed and turned into bindings. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "iptsave.h"
#include "natbind.h"

static const char *const prefixes[] = { "CNI-DN-", "" };
static const struct natbind_config config = { prefixes, 2, 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iptsave_parser parser;
	struct natbind_set set;
	const char *text = (const char *)data;

	natbind_set_init(&set);
	iptsave_init(&parser, data && size && data[0] & 1 ? AF_INET6 : AF_INET);
	while (size) {
		const char *end = memchr(text, '\n', size);
		size_t len = end ? (size_t)(end - text) : size;
		struct nat_rule rule;
		struct natbind_outcome outcome;
		const char *reason;

		if (iptsave_parse_line(&parser, text, len, &rule, &reason) == 1)
			natbind_add_rule(&set, &config, &rule, &outcome);
		len += end ? 1 : 0;
		text += len;
		size -= len;
	}
	natbind_set_finish(&set);
	natbind_set_free(&set);
	return 0;
}
