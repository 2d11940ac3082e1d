/* libFuzzer target for the transport-address parser (lib/transport.h).
 * Every input is parsed as a connecting and as a listening address; an
 * accepted one must format to a canonical text that parses again to the
 * same socket address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"

static void check(const char *text, int flags)
{
	struct transport_addr a, b;
	const char *reason = NULL;

	if (transport_parse(text, flags, &a, &reason) < 0) {
		if (!reason || !*reason)
			abort();   /* every rejection names its reason */
		return;
	}
	if (transport_parse(a.text, flags, &b, &reason) < 0)
		abort();
	if (a.kind != b.kind || a.sa_len != b.sa_len || memcmp(&a.sa, &b.sa, a.sa_len) != 0 ||
	    strcmp(a.text, b.text) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[TRANSPORT_TEXT_MAX + 8];

	/* Longer inputs only exercise the length check. */
	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	check(text, 0);
	check(text, TRANSPORT_LISTEN);
	return 0;
}
