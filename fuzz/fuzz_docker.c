/* libFuzzer target for lib/docker: the event record splitter, event,
 * inspect and container-list extraction, and error messages, all on the
 * same input with a fixed token budget. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

#define TOKENS 512

static jsmntok_t tokens[TOKENS];

static int on_port(void *ctx, const struct docker_port *port, const char *key, const char *reason)
{
	/* A port is either valid (no reason) or invalid (a reason, no port). */
	if ((port == NULL) == (reason == NULL) || !key)
		abort();
	if (port && (!port->host_port || !port->container_port))
		abort();
	return 0;
}

static int on_id(void *ctx, const char *id)
{
	if (!docker_id_valid(id, strlen(id)))
		abort();
	return 0;
}

static int on_record(void *ctx, const char *record, size_t len)
{
	struct docker_event ev;
	int json_error = 0;

	if (!len || len > DOCKER_RECORD_MAX)
		abort();
	if (docker_event_parse(record, len, tokens, TOKENS, &ev, &json_error) == 0 && ev.id[0] &&
	    !docker_id_valid(ev.id, strlen(ev.id)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct docker_records records;
	const char *text = (const char *)data;
	struct docker_container c;
	char message[128];
	unsigned minor;
	int json_error;

	docker_records_init(&records);
	docker_records_feed(&records, text, size, on_record, NULL);
	docker_inspect_parse(text, size, tokens, TOKENS, &c, on_port, NULL, &json_error);
	docker_list_parse(text, size, tokens, TOKENS, on_id, NULL, &json_error);
	docker_error_message(text, size, tokens, TOKENS, message, sizeof message);
	if (strlen(message) >= sizeof message)
		abort();
	docker_api_version_parse(text, size, &minor);
	return 0;
}
