/* see lib/kube.h */
#include "kube.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(KUBE_OBJECT_MAX == 524288, "KUBE_OBJECT_MAX_TEXT must spell KUBE_OBJECT_MAX");

static int get_string(const struct json *j, int obj, const char *key, char *out, size_t size)
{
	int i = json_get(j, obj, key);

	out[0] = '\0';
	if (i < 0 || json_is_null(j, i))
		return 0;
	if (json_type(j, i) != JSMN_STRING)
		return -1;
	return json_string(j, i, out, size) < 0 ? -1 : 1;
}

static int parse_port(const struct json *j, int p, struct kube_port *port, const char **reason)
{
	char proto[8];
	int64_t v;
	int i, r;

	if (json_type(j, p) != JSMN_OBJECT) {
		*reason = "spec.ports[] entry is not an object";
		return -1;
	}
	r = get_string(j, p, "protocol", proto, sizeof(proto));
	if (r < 0) {
		*reason = "spec.ports[].protocol is not TCP, UDP or SCTP";
		return -1;
	}
	/* The API spells protocols in upper case; the default is TCP. */
	if (r == 0 || !strcmp(proto, "TCP"))
		port->proto = PEV_TCP;
	else if (!strcmp(proto, "UDP"))
		port->proto = PEV_UDP;
	else if (!strcmp(proto, "SCTP"))
		port->proto = PEV_SCTP;
	else {
		*reason = "spec.ports[].protocol is not TCP, UDP or SCTP";
		return -1;
	}
	i = json_get(j, p, "port");
	if (i < 0 || json_int(j, i, &v, 0) < 0 || v < 1 || v > 65535) {
		*reason = "spec.ports[].port is missing or not in 1-65535";
		return -1;
	}
	port->port = (uint16_t)v;
	port->node_port = 0;
	i = json_get(j, p, "nodePort");
	if (i >= 0 && !json_is_null(j, i)) {
		if (json_int(j, i, &v, 0) < 0 || v < 0 || v > 65535) {
			*reason = "spec.ports[].nodePort is not in 0-65535";
			return -1;
		}
		port->node_port = (uint16_t)v;
	}
	return 0;
}

/* see lib/kube.h */
int kube_service_parse(const struct json *j, int obj, struct kube_service *svc, const char **reason)
{
	int meta, spec, ports, n;
	char type[32], kind[32];

	memset(svc, 0, sizeof(*svc));
	if (json_type(j, obj) != JSMN_OBJECT) {
		*reason = "the object is not a JSON object";
		return -1;
	}
	if (get_string(j, obj, "kind", kind, sizeof(kind)) == 1 && strcmp(kind, "Service")) {
		*reason = "the object is not a Service";
		return -1;
	}
	meta = json_get(j, obj, "metadata");
	if (json_type(j, meta) != JSMN_OBJECT) {
		*reason = "metadata is missing";
		return -1;
	}
	if (get_string(j, meta, "namespace", svc->namespace, sizeof(svc->namespace)) != 1 ||
	    !svc->namespace[0]) {
		*reason = "metadata.namespace is missing or too long";
		return -1;
	}
	if (get_string(j, meta, "name", svc->name, sizeof(svc->name)) != 1 || !svc->name[0]) {
		*reason = "metadata.name is missing or too long";
		return -1;
	}
	if (get_string(j, meta, "resourceVersion", svc->resource_version,
		       sizeof(svc->resource_version)) < 0) {
		*reason = "metadata.resourceVersion is not a string";
		return -1;
	}
	spec = json_get(j, obj, "spec");
	svc->type = KUBE_CLUSTER_IP;
	if (spec < 0 || json_is_null(j, spec))
		return 0;
	if (json_type(j, spec) != JSMN_OBJECT) {
		*reason = "spec is not an object";
		return -1;
	}
	switch (get_string(j, spec, "type", type, sizeof(type))) {
	case 1:
		if (!strcmp(type, "NodePort"))
			svc->type = KUBE_NODE_PORT;
		else if (!strcmp(type, "LoadBalancer"))
			svc->type = KUBE_LOAD_BALANCER;
		else if (!strcmp(type, "ExternalName"))
			svc->type = KUBE_EXTERNAL_NAME;
		else if (strcmp(type, "ClusterIP"))
			svc->type = KUBE_OTHER_TYPE;
		break;
	case 0:
		break;
	default:
		svc->type = KUBE_OTHER_TYPE;
	}
	ports = json_get(j, spec, "ports");
	if (ports < 0 || json_is_null(j, ports))
		return 0;
	if (json_type(j, ports) != JSMN_ARRAY) {
		*reason = "spec.ports is not an array";
		return -1;
	}
	n = j->tokens[ports].size;
	if (n > KUBE_PORTS_MAX) {
		*reason = "spec.ports has more than 128 entries";
		return -1;
	}
	for (int k = 0, i = ports + 1; k < n; k++, i = json_skip(j, i)) {
		if (parse_port(j, i, &svc->ports[k], reason) < 0)
			return -1;
		svc->port_count++;
	}
	return 0;
}

static int binding_cmp(const void *a, const void *b)
{
	const struct kube_binding *x = a, *y = b;

	if (x->proto != y->proto)
		return (int)x->proto - (int)y->proto;
	if (x->host_port != y->host_port)
		return (int)x->host_port - (int)y->host_port;
	return (int)x->target_port - (int)y->target_port;
}

/* see lib/kube.h */
unsigned kube_service_bindings(const struct kube_service *svc, struct kube_binding *out)
{
	unsigned n = 0, kept = 0;

	if (svc->type != KUBE_NODE_PORT && svc->type != KUBE_LOAD_BALANCER)
		return 0;
	for (unsigned i = 0; i < svc->port_count; i++) {
		const struct kube_port *p = &svc->ports[i];
		uint16_t host = svc->type == KUBE_NODE_PORT ? p->node_port : p->port;

		if (!host)
			continue;
		out[n++] = (struct kube_binding){ p->proto, host, p->port };
	}
	qsort(out, n, sizeof(*out), binding_cmp);
	/* One binding per (proto, host port): the API rejects duplicate
	 * nodePorts, so a repeat here can only come from a hand-made object. */
	for (unsigned i = 0; i < n; i++)
		if (!kept || out[kept - 1].proto != out[i].proto || out[kept - 1].host_port != out[i].host_port)
			out[kept++] = out[i];
	return kept;
}

/* see lib/kube.h */
int kube_status_parse(const char *text, size_t len, jsmntok_t *tokens, int max,
		      struct kube_status *st)
{
	struct json j;
	int i;
	int64_t code;

	memset(st, 0, sizeof(*st));
	if (json_parse(&j, text, len, tokens, max) < 0 || json_type(&j, 0) != JSMN_OBJECT)
		return -1;
	i = json_get(&j, 0, "code");
	if (i >= 0 && json_int(&j, i, &code, 0) == 0 && code > 0 && code < 1000)
		st->code = (int)code;
	get_string(&j, 0, "reason", st->reason, sizeof(st->reason));
	i = json_get(&j, 0, "message");
	if (json_type(&j, i) == JSMN_STRING && json_string(&j, i, st->message, sizeof(st->message)) < 0) {
		/* Keep the start of an over-long message for the log. */
		size_t n = (size_t)(j.tokens[i].end - j.tokens[i].start);

		if (n >= sizeof(st->message))
			n = sizeof(st->message) - 1;
		memcpy(st->message, text + j.tokens[i].start, n);
		st->message[n] = '\0';
	}
	return 0;
}

/* see lib/kube.h */
int kube_status_expired(const struct kube_status *st)
{
	return st->code == 410 || !strcmp(st->reason, "Expired") || !strcmp(st->reason, "Gone");
}

/* see lib/kube.h */
int kube_event_parse(const char *text, size_t len, jsmntok_t *tokens, int max,
		     struct kube_event *ev, const char **reason)
{
	struct json j;
	char type[16];
	int obj, r;

	memset(ev, 0, sizeof(*ev));
	r = json_parse(&j, text, len, tokens, max);
	if (r < 0) {
		*reason = json_strerror(r);
		return -1;
	}
	if (json_type(&j, 0) != JSMN_OBJECT) {
		*reason = "the frame is not a JSON object";
		return -1;
	}
	if (get_string(&j, 0, "type", type, sizeof(type)) != 1) {
		*reason = "the frame has no \"type\" string";
		return -1;
	}
	obj = json_get(&j, 0, "object");
	if (json_type(&j, obj) != JSMN_OBJECT) {
		*reason = "the frame has no \"object\" object";
		return -1;
	}
	if (!strcmp(type, "ERROR")) {
		const jsmntok_t *t = &j.tokens[obj];

		ev->type = KUBE_ERROR;
		/* Reparse the Status alone; the token array is reused. */
		kube_status_parse(text + t->start, (size_t)(t->end - t->start), tokens, max, &ev->status);
		return 0;
	}
	if (!strcmp(type, "BOOKMARK")) {
		int meta = json_get(&j, obj, "metadata");

		ev->type = KUBE_BOOKMARK;
		if (get_string(&j, meta, "resourceVersion", ev->resource_version,
			       sizeof(ev->resource_version)) != 1 || !ev->resource_version[0]) {
			*reason = "BOOKMARK without metadata.resourceVersion";
			return -1;
		}
		return 0;
	}
	if (!strcmp(type, "ADDED"))
		ev->type = KUBE_ADDED;
	else if (!strcmp(type, "MODIFIED"))
		ev->type = KUBE_MODIFIED;
	else if (!strcmp(type, "DELETED"))
		ev->type = KUBE_DELETED;
	else {
		*reason = "unknown event type";
		return -1;
	}
	if (kube_service_parse(&j, obj, &ev->service, reason) < 0)
		return -1;
	memcpy(ev->resource_version, ev->service.resource_version, sizeof(ev->resource_version));
	return 0;
}

/* see lib/kube.h */
int kube_list_meta_parse(const char *text, size_t len, jsmntok_t *tokens, int max,
			 struct kube_list_meta *meta, const char **reason)
{
	struct json j;
	int r = json_parse(&j, text, len, tokens, max);

	memset(meta, 0, sizeof(*meta));
	if (r < 0) {
		*reason = json_strerror(r);
		return -1;
	}
	if (get_string(&j, 0, "resourceVersion", meta->resource_version,
		       sizeof(meta->resource_version)) < 0) {
		*reason = "list metadata.resourceVersion is invalid or too long";
		return -1;
	}
	if (get_string(&j, 0, "continue", meta->continue_token, sizeof(meta->continue_token)) < 0) {
		*reason = "list metadata.continue is invalid or too long";
		return -1;
	}
	return 0;
}

/* ---- streaming splitter ---- */

enum { PENDING_NONE, PENDING_ITEMS, PENDING_METADATA };

/* see lib/kube.h */
void kube_split_init(struct kube_split *s, enum kube_split_mode mode, char *buf, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->buf = buf;
	s->cap = cap;
}

/* see lib/kube.h */
int kube_split_idle(const struct kube_split *s)
{
	return s->depth == 0 && !s->in_string;
}

static void capture(struct kube_split *s, char c)
{
	if (s->len < s->cap)
		s->buf[s->len++] = c;
	else
		s->overflow = 1;
}

/* see lib/kube.h */
int kube_split_feed(struct kube_split *s, const char *data, size_t len, kube_split_cb *cb, void *ctx)
{
	int list = s->mode == KUBE_SPLIT_LIST;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (s->capturing)
			capture(s, c);
		if (s->in_string) {
			if (s->escape) {
				s->escape = 0;
			} else if (c == '\\') {
				s->escape = 1;
			} else if (c == '"') {
				s->in_string = 0;
				s->in_key = 0;
			} else if (s->in_key) {
				if (s->key_len < sizeof(s->key) - 1)
					s->key[s->key_len++] = c;
				else
					s->key_overflow = 1;
			}
			continue;
		}
		switch (c) {
		case '"':
			if (s->depth == 0)
				return -EINVAL;
			s->in_string = 1;
			if (list && s->depth == 1 && s->expect_key) {
				s->in_key = 1;
				s->key_len = 0;
				s->key_overflow = 0;
				s->expect_key = 0;
			}
			break;
		case ':':
			if (list && s->depth == 1) {
				s->key[s->key_len] = '\0';
				s->pending = s->key_overflow ? PENDING_NONE :
					!strcmp(s->key, "items") ? PENDING_ITEMS :
					!strcmp(s->key, "metadata") ? PENDING_METADATA : PENDING_NONE;
			}
			break;
		case ',':
			if (list && s->depth == 1) {
				s->expect_key = 1;
				s->pending = PENDING_NONE;
			}
			break;
		case '{':
		case '[':
			if (!s->capturing) {
				int start = 0;

				if (!list)
					start = s->depth == 0 && c == '{';
				else if (c == '{' && s->depth == 1 && s->pending == PENDING_METADATA)
					start = 1, s->part = KUBE_PART_METADATA;
				else if (c == '{' && s->depth == 2 && s->items_open)
					start = 1, s->part = KUBE_PART_ITEM;
				if (!list)
					s->part = KUBE_PART_OBJECT;
				if (start) {
					s->capturing = 1;
					s->capture_depth = s->depth;
					s->len = 0;
					s->overflow = 0;
					capture(s, c);
				}
			}
			if (s->depth == 0 && c != '{')
				return -EINVAL;
			if (list && s->depth == 1 && c == '[' && s->pending == PENDING_ITEMS)
				s->items_open = 1;
			if (list && s->depth == 0)
				s->expect_key = 1;
			s->depth++;
			break;
		case '}':
		case ']':
			if (s->depth == 0)
				return -EINVAL;
			s->depth--;
			if (s->capturing && s->depth == s->capture_depth) {
				int r;

				s->capturing = 0;
				r = cb(ctx, s->part, s->buf, s->len, s->overflow);
				if (r)
					return r;
			}
			if (list && s->depth == 1) {
				s->items_open = 0;
				s->pending = PENDING_NONE;
			}
			break;
		case ' ': case '\t': case '\r': case '\n':
			break;
		default:
			/* Primitives (numbers, true, false, null) only inside values. */
			if (s->depth == 0)
				return -EINVAL;
		}
	}
	return 0;
}
