/* see lib/docker.h */
#include "docker.h"

#include <string.h>

#include "log.h"

/* see lib/docker.h */
const char *docker_strerror(int err)
{
	switch (err) {
	case DOCKER_ERROR_JSON: return "invalid JSON from the Docker daemon";
	case DOCKER_ERROR_SHAPE: return "unexpected JSON shape from the Docker daemon";
	case DOCKER_ERROR_RECORD_TOO_LONG: return "Docker event record too long";
	case DOCKER_ERROR_CALLBACK: return "stopped by the caller";
	}
	return "Docker API error";
}

/* see lib/docker.h */
int docker_id_valid(const char *s, size_t len)
{
	if (len != DOCKER_ID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int parse_json(struct json *j, const char *text, size_t len, jsmntok_t *tokens,
		      int max_tokens, int *json_error)
{
	int r = json_parse(j, text, len, tokens, max_tokens);

	if (r < 0) {
		if (json_error)
			*json_error = r;
		return DOCKER_ERROR_JSON;
	}
	return 0;
}

/* Copies the string at token i when it is a full container ID. */
static int copy_id(const struct json *j, int i, char out[DOCKER_ID_LEN + 1])
{
	char buf[DOCKER_ID_LEN + 2];
	int n = json_string(j, i, buf, sizeof buf);

	if (n < 0 || !docker_id_valid(buf, (size_t)n))
		return -1;
	memcpy(out, buf, DOCKER_ID_LEN + 1);
	return 0;
}

static enum docker_action action_from(const char *s)
{
	static const struct {
		const char *name;
		enum docker_action action;
	} names[] = {
		{ "start", DOCKER_ACTION_START },
		{ "restart", DOCKER_ACTION_RESTART },
		{ "die", DOCKER_ACTION_DIE },
		{ "stop", DOCKER_ACTION_STOP },
		{ "kill", DOCKER_ACTION_KILL },
		{ "destroy", DOCKER_ACTION_DESTROY },
	};

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcmp(s, names[i].name))
			return names[i].action;
	return DOCKER_ACTION_OTHER;
}

/* see lib/docker.h */
int docker_event_parse(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
		       struct docker_event *ev, int *json_error)
{
	struct json j;
	int type, action, actor, id, t, r;
	char action_buf[256];
	int64_t n;

	memset(ev, 0, sizeof *ev);
	if ((r = parse_json(&j, text, len, tokens, max_tokens, json_error)))
		return r;
	if (json_type(&j, 0) != JSMN_OBJECT)
		return DOCKER_ERROR_SHAPE;

	/* Type exists from API 1.22 on; without it the daemon applied the
	 * type=container filter, so the event is a container's. */
	type = json_get(&j, 0, "Type");
	ev->is_container = type < 0 || json_eq(&j, type, "container");
	ev->is_network = type >= 0 && json_eq(&j, type, "network");

	action = json_get(&j, 0, "Action");
	if (action < 0)
		action = json_get(&j, 0, "status");
	if (action < 0 || json_string(&j, action, action_buf, sizeof action_buf) < 0) {
		/* Longer than any action docker-watch acts on: keep it for logs. */
		if (action < 0 || json_type(&j, action) != JSMN_STRING)
			return DOCKER_ERROR_SHAPE;
		ev->action = DOCKER_ACTION_OTHER;
		log_sanitize(ev->action_text, sizeof ev->action_text, text + j.tokens[action].start,
			     (size_t)(j.tokens[action].end - j.tokens[action].start));
	} else if (ev->is_network) {
		ev->action = !strcmp(action_buf, "connect") || !strcmp(action_buf, "disconnect") ?
			     DOCKER_ACTION_NETWORK : DOCKER_ACTION_OTHER;
		log_sanitize(ev->action_text, sizeof ev->action_text, action_buf, strlen(action_buf));
	} else {
		ev->action = action_from(action_buf);
		log_sanitize(ev->action_text, sizeof ev->action_text, action_buf, strlen(action_buf));
	}

	actor = json_get(&j, 0, "Actor");
	if (ev->is_network) {
		/* Actor.ID is the network's; the container is an attribute. */
		int attrs = actor >= 0 ? json_get(&j, actor, "Attributes") : -1;

		id = attrs >= 0 ? json_get(&j, attrs, "container") : -1;
	} else {
		id = actor >= 0 ? json_get(&j, actor, "ID") : -1;
		if (id < 0)
			id = json_get(&j, 0, "id");
	}
	if (id < 0 || copy_id(&j, id, ev->id) < 0)
		ev->id[0] = '\0';

	t = json_get(&j, 0, "timeNano");
	if (t >= 0 && json_int(&j, t, &n, 0) == 0) {
		ev->time_nano = n;
	} else if ((t = json_get(&j, 0, "time")) >= 0 && json_int(&j, t, &n, 0) == 0 &&
		   n >= 0 && n < INT64_MAX / 1000000000) {
		ev->time_nano = n * 1000000000;
	}
	return 0;
}

/* see lib/docker.h */
void docker_records_init(struct docker_records *r)
{
	r->len = 0;
	r->skipping = 0;
}

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Ends the record being assembled; skipped and blank records are dropped. */
static int flush_record(struct docker_records *r, docker_record_cb *cb, void *ctx)
{
	size_t len = r->len;
	int skipped = r->skipping;

	r->len = 0;
	r->skipping = 0;
	if (skipped || blank(r->buf, len))
		return 0;
	return cb(ctx, r->buf, len);
}

/* see lib/docker.h */
int docker_records_feed(struct docker_records *r, const char *data, size_t len,
			docker_record_cb *cb, void *ctx)
{
	int result = 0;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		int ret;

		if (c == '\n' || c == 0x1e) {
			if ((ret = flush_record(r, cb, ctx)))
				return ret;
			continue;
		}
		if (r->skipping)
			continue;
		if (r->len == sizeof r->buf) {
			/* Report once, then skip to the record's end. */
			r->skipping = 1;
			r->len = 0;
			result = DOCKER_ERROR_RECORD_TOO_LONG;
			continue;
		}
		r->buf[r->len++] = c;
	}
	return result;
}

/* Parses "PORT/PROTO" (a key of NetworkSettings.Ports). */
static int parse_port_key(const char *key, uint16_t *port, enum pev_proto *proto)
{
	const char *slash = strchr(key, '/');
	unsigned long n = 0;
	const char *p;

	if (!slash || slash == key || slash - key > 5)
		return -1;
	for (p = key; p < slash; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n < 1 || n > 65535)
		return -1;
	if (pev_proto_parse(slash + 1, strlen(slash + 1), proto) < 0)
		return -1;
	*port = (uint16_t)n;
	return 0;
}

static int parse_host_port(const char *s, uint16_t *port)
{
	unsigned long n = 0;
	size_t len = strlen(s);

	if (len < 1 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	if (n < 1 || n > 65535)
		return -1;
	*port = (uint16_t)n;
	return 0;
}

/* Reads one {"HostIp": ..., "HostPort": ...} entry into port; returns NULL
 * or the reason it cannot be used. */
static const char *parse_port_entry(const struct json *j, int entry, struct docker_port *port)
{
	char ip[64], host_port[16];
	int i;

	if (json_type(j, entry) != JSMN_OBJECT)
		return "binding is not an object";
	i = json_get(j, entry, "HostPort");
	if (i < 0 || json_string(j, i, host_port, sizeof host_port) < 0 ||
	    parse_host_port(host_port, &port->host_port) < 0)
		return "invalid or missing HostPort";
	i = json_get(j, entry, "HostIp");
	if (i < 0 || json_is_null(j, i)) {
		ip[0] = '\0';
	} else if (json_string(j, i, ip, sizeof ip) < 0) {
		return "invalid HostIp";
	}
	/* An empty HostIp means every IPv4 address. */
	if (!ip[0])
		strcpy(ip, "0.0.0.0");
	if (pev_addr_parse(ip, strlen(ip), &port->host_ip) < 0)
		return "invalid HostIp";
	return NULL;
}

static int report_invalid(struct docker_container *c, docker_port_cb *cb, void *ctx,
			  const char *key, const char *reason)
{
	c->invalid++;
	return cb(ctx, NULL, key, reason);
}

static int walk_ports(const struct json *j, int ports, struct docker_container *c,
		      docker_port_cb *cb, void *ctx)
{
	int n = j->tokens[ports].size;
	int k = ports + 1;

	for (int m = 0; m < n; m++, k = json_skip(j, k + 1)) {
		char key[32];
		int list = k + 1, count;
		struct docker_port port;

		if (json_string(j, k, key, sizeof key) < 0) {
			if (report_invalid(c, cb, ctx, "?", "port key too long or not a string"))
				return DOCKER_ERROR_CALLBACK;
			continue;
		}
		if (parse_port_key(key, &port.container_port, &port.proto) < 0) {
			if (report_invalid(c, cb, ctx, key, "port key is not PORT/PROTO"))
				return DOCKER_ERROR_CALLBACK;
			continue;
		}
		/* null or []: exposed but not published. */
		if (json_is_null(j, list))
			continue;
		if (json_type(j, list) != JSMN_ARRAY) {
			if (report_invalid(c, cb, ctx, key, "bindings are not an array"))
				return DOCKER_ERROR_CALLBACK;
			continue;
		}
		count = j->tokens[list].size;
		for (int e = 0; e < count; e++) {
			const char *reason = parse_port_entry(j, json_index(j, list, e), &port);

			if (reason) {
				if (report_invalid(c, cb, ctx, key, reason))
					return DOCKER_ERROR_CALLBACK;
				continue;
			}
			c->ports++;
			if (cb(ctx, &port, key, NULL))
				return DOCKER_ERROR_CALLBACK;
		}
	}
	return 0;
}

/* Reads the address at key of object obj into addr when it is a valid
 * non-empty address. */
static int address_at(const struct json *j, int obj, const char *key, struct pev_addr *addr)
{
	char buf[64];
	int i = json_get(j, obj, key);
	int n;

	if (i < 0 || (n = json_string(j, i, buf, sizeof buf)) <= 0)
		return -1;
	return pev_addr_parse(buf, (size_t)n, addr);
}

/* Reads the address at key of the default bridge (settings itself) or,
 * failing that, of the first network that has one. */
static int network_address(const struct json *j, int settings, const char *key,
			   struct pev_addr *addr)
{
	int networks = json_get(j, settings, "Networks");

	if (address_at(j, settings, key, addr) == 0)
		return 0;
	if (json_type(j, networks) != JSMN_OBJECT)
		return -1;
	for (int m = 0, i = networks + 1; m < j->tokens[networks].size; m++, i = json_skip(j, i + 1))
		if (address_at(j, i + 1, key, addr) == 0)
			return 0;
	return -1;
}

/* The container's addresses: ip is IPv4 when it has one (the target of
 * Docker's IPv4 forwarding), else its global IPv6 address; ip6 is the
 * global IPv6 address, which Docker's forwarding of IPv6 host addresses
 * targets when the container has one. */
static void container_address(const struct json *j, int settings, struct docker_container *c)
{
	memset(&c->ip, 0, sizeof c->ip);
	memset(&c->ip6, 0, sizeof c->ip6);
	if (network_address(j, settings, "GlobalIPv6Address", &c->ip6) < 0)
		memset(&c->ip6, 0, sizeof c->ip6);
	if (network_address(j, settings, "IPAddress", &c->ip) < 0)
		c->ip = c->ip6;
}

/* see lib/docker.h */
int docker_inspect_parse(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
			 struct docker_container *c, docker_port_cb *cb, void *ctx,
			 int *json_error)
{
	struct json j;
	int state, settings, ports, running, restarting, id, r;

	memset(c, 0, sizeof *c);
	if ((r = parse_json(&j, text, len, tokens, max_tokens, json_error)))
		return r;
	if (json_type(&j, 0) != JSMN_OBJECT)
		return DOCKER_ERROR_SHAPE;
	id = json_get(&j, 0, "Id");
	state = json_get(&j, 0, "State");
	if (id < 0 || copy_id(&j, id, c->id) < 0 || json_type(&j, state) != JSMN_OBJECT)
		return DOCKER_ERROR_SHAPE;
	running = json_bool(&j, json_get(&j, state, "Running"));
	restarting = json_bool(&j, json_get(&j, state, "Restarting"));
	if (running < 0)
		return DOCKER_ERROR_SHAPE;
	/* A container in its restart backoff reports Running and Restarting. */
	c->running = running == 1 && restarting != 1;

	settings = json_get(&j, 0, "NetworkSettings");
	if (json_is_null(&j, settings) || settings < 0)
		return 0;
	if (json_type(&j, settings) != JSMN_OBJECT)
		return DOCKER_ERROR_SHAPE;
	container_address(&j, settings, c);
	ports = json_get(&j, settings, "Ports");
	if (ports < 0 || json_is_null(&j, ports))
		return 0;
	if (json_type(&j, ports) != JSMN_OBJECT)
		return DOCKER_ERROR_SHAPE;
	return walk_ports(&j, ports, c, cb, ctx);
}

/* see lib/docker.h */
int docker_list_parse(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
		      docker_id_cb *cb, void *ctx, int *json_error)
{
	struct json j;
	int n, r, i;

	if ((r = parse_json(&j, text, len, tokens, max_tokens, json_error)))
		return r;
	if (json_type(&j, 0) != JSMN_ARRAY)
		return DOCKER_ERROR_SHAPE;
	n = j.tokens[0].size;
	i = 1;
	for (int k = 0; k < n; k++, i = json_skip(&j, i)) {
		char id[DOCKER_ID_LEN + 1];

		if (json_type(&j, i) != JSMN_OBJECT || copy_id(&j, json_get(&j, i, "Id"), id) < 0)
			return DOCKER_ERROR_SHAPE;
		if (cb(ctx, id))
			return DOCKER_ERROR_CALLBACK;
	}
	return 0;
}

/* see lib/docker.h */
void docker_error_message(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
			  char *out, size_t size)
{
	struct json j;
	int m;

	out[0] = '\0';
	if (json_parse(&j, text, len, tokens, max_tokens) < 0)
		return;
	m = json_get(&j, 0, "message");
	if (json_type(&j, m) != JSMN_STRING)
		return;
	log_sanitize(out, size, text + j.tokens[m].start,
		     (size_t)(j.tokens[m].end - j.tokens[m].start));
}

/* see lib/docker.h */
int docker_api_version_parse(const char *s, size_t len, unsigned *minor)
{
	unsigned n = 0;

	if (len < 3 || len > 6 || s[0] != '1' || s[1] != '.')
		return -1;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	*minor = n;
	return 0;
}
