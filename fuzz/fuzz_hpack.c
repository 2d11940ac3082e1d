/* libFuzzer target: the HPACK decoder.  The input is split at 0xff 0x00
 * pairs into several header blocks decoded with one dynamic table, so
 * table state carries over as on a connection. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hpack.h"

static struct hpack_decoder dec;
static volatile unsigned sink;

static int on_header(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len)
{
	/* Touch every byte so ASan checks the pointers. */
	for (size_t i = 0; i < name_len; i++)
		sink += (unsigned char)name[i];
	for (size_t i = 0; i < value_len; i++)
		sink += (unsigned char)value[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0;

	hpack_decoder_init(&dec, size && data[0] & 1 ? 256 : HPACK_TABLE_MAX);
	for (size_t i = 0; i + 1 < size; i++) {
		if (data[i] == 0xff && data[i + 1] == 0x00) {
			if (hpack_decode(&dec, data + start, i - start, on_header, NULL))
				return 0;
			start = i + 2;
		}
	}
	hpack_decode(&dec, data + start, size - start, on_header, NULL);
	return 0;
}
