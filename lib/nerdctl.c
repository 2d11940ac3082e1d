/* nerdctl port data parser; see lib/nerdctl.h. */
#include <string.h>

#include "nerdctl.h"

static int parse_port(const struct json *j, int obj, const char *key, int required,
		      uint16_t *out, const char **reason)
{
	int t = json_get(j, obj, key);
	int64_t v;

	if (t < 0) {
		if (required) {
			*reason = "missing port number";
			return -1;
		}
		*out = 0;
		return 0;
	}
	if (json_int(j, t, &v, 0) < 0 || v < 1 || v > 65535) {
		*reason = "port number not an integer in 1-65535";
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_entry(const struct json *j, int obj, struct nerdctl_port *p, const char **reason)
{
	char text[64];
	int t;

	if (json_type(j, obj) != JSMN_OBJECT) {
		*reason = "entry is not an object";
		return -1;
	}
	if (parse_port(j, obj, "HostPort", 1, &p->host_port, reason) ||
	    parse_port(j, obj, "ContainerPort", 0, &p->container_port, reason))
		return -1;

	t = json_get(j, obj, "Protocol");
	if (t < 0) {
		*reason = "missing Protocol";
		return -1;
	}
	if (json_string(j, t, text, sizeof text) < 0 ||
	    pev_proto_parse(text, strlen(text), &p->proto) < 0) {
		*reason = "Protocol is not tcp, udp or sctp";
		return -1;
	}

	t = json_get(j, obj, "HostIP");
	text[0] = 0;
	if (t >= 0 && !json_is_null(j, t) && json_string(j, t, text, sizeof text) < 0) {
		*reason = "HostIP is not a string";
		return -1;
	}
	if (!text[0])
		strcpy(text, "0.0.0.0");
	if (pev_addr_parse(text, strlen(text), &p->host_ip) < 0) {
		*reason = "HostIP is not an IPv4 or IPv6 address";
		return -1;
	}
	return 0;
}

/* see lib/nerdctl.h */
int nerdctl_parse_ports(const char *text, size_t len, enum nerdctl_format format,
			jsmntok_t *tokens, int max_tokens,
			struct nerdctl_port *ports, size_t max, const char **reason, int *entry)
{
	struct json j;
	int r, arr, count = 0;

	*entry = -1;
	r = json_parse(&j, text, len, tokens, max_tokens);
	if (r < 0) {
		*reason = json_strerror(r);
		return -1;
	}
	arr = 0;
	if (format == NERDCTL_NETWORK_CONFIG_FILE) {
		if (json_type(&j, 0) != JSMN_OBJECT) {
			*reason = "network config is not a JSON object";
			return -1;
		}
		arr = json_get(&j, 0, "portMappings");
		if (arr < 0 || json_is_null(&j, arr))
			return 0;   /* no published ports */
	}
	if (json_type(&j, arr) != JSMN_ARRAY) {
		*reason = format == NERDCTL_LABEL ? "label is not a JSON array" : "portMappings is not an array";
		return -1;
	}
	int size = j.tokens[arr].size;

	for (int i = 0, t = arr + 1; i < size; i++, t = json_skip(&j, t)) {
		if ((size_t)count == max) {
			*reason = "too many port entries";
			return -1;
		}
		if (parse_entry(&j, t, &ports[count], reason)) {
			*entry = i;
			return -1;
		}
		count++;
	}
	return count;
}
