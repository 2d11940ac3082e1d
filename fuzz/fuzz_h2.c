/* libFuzzer target: the HTTP/2 client's frame parser and everything it
 * drives (HPACK, flow control), fed as a server would send.  The first
 * byte chooses where to split the input, so partial frames are covered. */
#include <stddef.h>
#include <stdint.h>

#include "grpc.h"
#include "h2.h"

static struct h2_conn conn;
static uint8_t message[1 << 16];
static struct grpc_reader reader;

static int on_message(void *ctx, const uint8_t *msg, size_t len)
{
	return 0;
}

static int on_event(void *ctx, const struct h2_event *ev)
{
	if (ev->type == H2_EV_DATA)
		grpc_reader_feed(&reader, ev->data, ev->len, on_message, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct h2_header headers[] = { { "content-type", "application/grpc" } };
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] % size;
	data++;
	size--;
	if (split > size)
		split = size;
	h2_init(&conn);
	grpc_reader_init(&reader, message, sizeof message);
	for (int i = 0; i < 4; i++)
		h2_request(&conn, "localhost", "/x", headers, 1, "\0\0\0\0\0", 5);
	conn.out_len = 0;
	if (h2_feed(&conn, data, split, on_event, NULL) == 0)
		h2_feed(&conn, data + split, size - split, on_event, NULL);
	return 0;
}
