/* libFuzzer target: the protobuf reader and every containerd message
 * decoder ctr-watch uses.  The first byte picks the message type. */
#include <stddef.h>
#include <stdint.h>

#include "containerd.h"
#include "pb.h"

static volatile unsigned sink;

static int on_name(void *ctx, const char *name)
{
	return 0;
}

static int on_task(void *ctx, const char *container_id, uint32_t pid, int status)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctrd_event ev;
	struct ctrd_container c;
	struct pb_reader r;
	struct pb_field f;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		ctrd_parse_envelope(data + 1, size - 1, &ev);
		break;
	case 1:
		ctrd_parse_namespaces(data + 1, size - 1, on_name, NULL);
		break;
	case 2:
		ctrd_parse_tasks(data + 1, size - 1, on_task, NULL);
		break;
	case 3:
		if (ctrd_parse_get_container(data + 1, size - 1, &c) == 0) {
			for (size_t i = 0; c.ports && i < c.ports_len; i++)
				sink += (unsigned char)c.ports[i];
			for (size_t i = 0; c.state_dir && i < c.state_dir_len; i++)
				sink += (unsigned char)c.state_dir[i];
		}
		break;
	default:
		pb_reader_init(&r, data + 1, size - 1);
		while (pb_next(&r, &f) > 0) {
			if (f.wire == PB_LEN && f.len)
				sink += f.data[f.len - 1];
		}
		break;
	}
	return 0;
}
