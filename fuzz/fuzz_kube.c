/* libFuzzer target for lib/kube: the input is fed to the list and the
 * watch splitters in pieces whose sizes come from its first byte, and
 * every part they emit goes through the watch frame decoder, Service
 * extraction and the port rules, as in nodeport-watch. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube.h"

static jsmntok_t tokens[KUBE_TOKENS_MAX];
static char buf[4096];

static int on_part(void *ctx, enum kube_split_part part, const char *text, size_t len, int too_large)
{
	struct kube_event ev;
	struct kube_binding b[KUBE_PORTS_MAX];
	struct kube_list_meta meta;
	const char *reason;
	struct json j;

	if (len > sizeof(buf))
		__builtin_trap();
	if (too_large)
		return 0;
	if (part == KUBE_PART_METADATA) {
		kube_list_meta_parse(text, len, tokens, KUBE_TOKENS_MAX, &meta, &reason);
	} else if (part == KUBE_PART_ITEM) {
		if (json_parse(&j, text, len, tokens, KUBE_TOKENS_MAX) > 0 &&
		    kube_service_parse(&j, 0, &ev.service, &reason) == 0 &&
		    kube_service_bindings(&ev.service, b) > KUBE_PORTS_MAX)
			__builtin_trap();
	} else if (kube_event_parse(text, len, tokens, KUBE_TOKENS_MAX, &ev, &reason) == 0) {
		unsigned n = kube_service_bindings(&ev.service, b);

		for (unsigned i = 1; i < n; i++)
			if (b[i - 1].proto == b[i].proto && b[i - 1].host_port == b[i].host_port)
				__builtin_trap();
		kube_status_expired(&ev.status);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	for (int mode = 0; mode < 2; mode++) {
		struct kube_split s;

		kube_split_init(&s, mode ? KUBE_SPLIT_LIST : KUBE_SPLIT_STREAM, buf, sizeof(buf));
		for (size_t off = 0; off < size; off += piece) {
			size_t n = off + piece > size ? size - off : piece;

			if (kube_split_feed(&s, (const char *)data + off, n, on_part, NULL) < 0)
				break;
		}
	}
	/* Whole input as one frame, as the Status reader sees error bodies. */
	{
		struct kube_status st;
		struct kube_event ev;
		const char *reason;

		kube_status_parse((const char *)data, size, tokens, KUBE_TOKENS_MAX, &st);
		kube_event_parse((const char *)data, size, tokens, KUBE_TOKENS_MAX, &ev, &reason);
	}
	return 0;
}
