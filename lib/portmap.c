/* see lib/portmap.h */
#include "portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Output cursor with a sticky overflow flag, so a run of appends is
 * checked once at the end. */
struct out {
	char *buf;
	size_t size, len;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

static void format_key(const struct portmap_binding *b, char *dst, size_t size)
{
	snprintf(dst, size, "%u/%s", (unsigned)b->key_port, pev_proto_name(b->proto));
}

/* Go's encoding/json sorts map keys by comparing them as byte strings. */
static int key_less(const struct portmap_binding *a, const struct portmap_binding *b)
{
	char ka[16], kb[16];

	format_key(a, ka, sizeof ka);
	format_key(b, kb, sizeof kb);
	return strcmp(ka, kb) < 0;
}

/* Insertion sort: stable, and at most PORTMAP_BINDINGS_MAX elements. */
static void sort_by_key(struct portmap_binding *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct portmap_binding cur = v[i];
		size_t j = i;

		while (j > 0 && key_less(&cur, &v[j - 1])) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = cur;
	}
}

static const char *host_ip_text(const struct portmap_binding *b, char *dst, size_t size)
{
	/* The service passes HostIp to net.ParseIP, which rejects "", so an
	 * unset address is sent as the IPv4 wildcard. */
	if (b->host_ip.family == 0)
		return "0.0.0.0";
	return pev_addr_format(&b->host_ip, dst, size);
}

/* see lib/portmap.h */
int portmap_format(char *buf, size_t size, int remove,
		   struct portmap_binding *bindings, size_t binding_count,
		   const struct portmap_addr *addrs, size_t addr_count)
{
	struct out o = { buf, size, 0, 0 };
	char key[16], prev_key[16] = "";
	char ip[INET6_ADDRSTRLEN];

	if (binding_count > PORTMAP_BINDINGS_MAX || addr_count > PORTMAP_ADDRS_MAX)
		return -EINVAL;
	if (size == 0)
		return -ENOSPC;
	sort_by_key(bindings, binding_count);

	put(&o, "{\"remove\":%s,\"ports\":{", remove ? "true" : "false");
	for (size_t i = 0; i < binding_count; i++) {
		const struct portmap_binding *b = &bindings[i];

		format_key(b, key, sizeof key);
		if (i == 0 || strcmp(key, prev_key) != 0) {
			if (i > 0)
				put(&o, "],");
			put(&o, "\"%s\":[", key);
			memcpy(prev_key, key, sizeof key);
		} else {
			put(&o, ",");
		}
		put(&o, "{\"HostIp\":\"%s\",\"HostPort\":\"%u\"}",
		    host_ip_text(b, ip, sizeof ip), (unsigned)b->host_port);
	}
	if (binding_count > 0)
		put(&o, "]");
	put(&o, "},\"connectAddrs\":[");
	for (size_t i = 0; i < addr_count; i++)
		put(&o, "%s{\"network\":\"ip+net\",\"addr\":\"%s/%u\"}", i ? "," : "",
		    pev_addr_format(&addrs[i].addr, ip, sizeof ip), (unsigned)addrs[i].prefix_len);
	put(&o, "]}\n");
	if (o.overflow)
		return -ENOSPC;
	return (int)o.len;
}
