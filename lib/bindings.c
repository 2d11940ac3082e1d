/* see lib/bindings.h */
#include "bindings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* FNV-1a, 64-bit. */
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t endpoint_hash(enum pev_proto proto, const struct pev_addr *addr, uint16_t port)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned char key[3] = { (unsigned char)proto, (unsigned char)(port >> 8), (unsigned char)port };

	h = hash_bytes(h, key, sizeof key);
	return hash_bytes(h, addr->bytes, addr->family == AF_INET ? 4 : 16);
}

static uint64_t binding_hash(const char *owner, enum pev_proto proto,
			     const struct pev_addr *addr, uint16_t port)
{
	return hash_bytes(endpoint_hash(proto, addr, port), owner, strlen(owner));
}

int bt_init(struct binding_table *t, const struct binding_ops *ops, void *ctx)
{
	memset(t, 0, sizeof *t);
	t->ops = ops;
	t->ctx = ctx;
	t->binding_buckets = t->endpoint_buckets = INITIAL_BUCKETS;
	t->binding_hash = calloc(INITIAL_BUCKETS, sizeof *t->binding_hash);
	t->endpoint_hash = calloc(INITIAL_BUCKETS, sizeof *t->endpoint_hash);
	if (!t->binding_hash || !t->endpoint_hash) {
		bt_free(t);
		return -ENOMEM;
	}
	return 0;
}

void bt_free(struct binding_table *t)
{
	struct binding *b, *bn;
	struct endpoint *e, *en;

	for (b = t->bindings; b; b = bn) {
		bn = b->next;
		free(b->owner);
		free(b);
	}
	for (e = t->endpoints; e; e = en) {
		en = e->next;
		free(e);
	}
	free(t->binding_hash);
	free(t->endpoint_hash);
	t->binding_hash = NULL;
	t->endpoint_hash = NULL;
	t->bindings = NULL;
	t->endpoints = NULL;
	t->binding_count = t->endpoint_count = 0;
}

/* Doubles a hash when it holds more entries than buckets; a failed
 * allocation keeps the old, slower hash. */
static void grow_bindings(struct binding_table *t)
{
	size_t n = t->binding_buckets * 2;
	struct binding **h;

	if (t->binding_count < t->binding_buckets || !(h = calloc(n, sizeof *h)))
		return;
	for (struct binding *b = t->bindings; b; b = b->next) {
		size_t i = binding_hash(b->owner, b->proto, &b->host_ip, b->host_port) & (n - 1);
		b->hash_next = h[i];
		h[i] = b;
	}
	free(t->binding_hash);
	t->binding_hash = h;
	t->binding_buckets = n;
}

static void grow_endpoints(struct binding_table *t)
{
	size_t n = t->endpoint_buckets * 2;
	struct endpoint **h;

	if (t->endpoint_count < t->endpoint_buckets || !(h = calloc(n, sizeof *h)))
		return;
	for (struct endpoint *e = t->endpoints; e; e = e->next) {
		size_t i = endpoint_hash(e->proto, &e->addr, e->port) & (n - 1);
		e->hash_next = h[i];
		h[i] = e;
	}
	free(t->endpoint_hash);
	t->endpoint_hash = h;
	t->endpoint_buckets = n;
}

struct endpoint *bt_find_endpoint(struct binding_table *t, enum pev_proto proto,
				  const struct pev_addr *addr, uint16_t port)
{
	size_t i = endpoint_hash(proto, addr, port) & (t->endpoint_buckets - 1);

	for (struct endpoint *e = t->endpoint_hash[i]; e; e = e->hash_next)
		if (e->proto == proto && e->port == port && pev_addr_equal(&e->addr, addr))
			return e;
	return NULL;
}

struct binding *bt_find(struct binding_table *t, const char *owner, enum pev_proto proto,
			const struct pev_addr *host_ip, uint16_t host_port)
{
	size_t i = binding_hash(owner, proto, host_ip, host_port) & (t->binding_buckets - 1);

	for (struct binding *b = t->binding_hash[i]; b; b = b->hash_next)
		if (b->proto == proto && b->host_port == host_port &&
		    pev_addr_equal(&b->host_ip, host_ip) && !strcmp(b->owner, owner))
			return b;
	return NULL;
}

static struct endpoint *endpoint_ref(struct binding_table *t, enum pev_proto proto,
				     const struct pev_addr *addr, uint16_t port)
{
	struct endpoint *e = bt_find_endpoint(t, proto, addr, port);
	size_t i;

	if (e) {
		e->owners++;
		return e;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->proto = proto;
	e->addr = *addr;
	e->port = port;
	e->owners = 1;
	i = endpoint_hash(proto, addr, port) & (t->endpoint_buckets - 1);
	e->hash_next = t->endpoint_hash[i];
	t->endpoint_hash[i] = e;
	e->next = t->endpoints;
	if (t->endpoints)
		t->endpoints->prev = e;
	t->endpoints = e;
	t->endpoint_count++;
	grow_endpoints(t);
	if (t->ops && t->ops->opened)
		t->ops->opened(t->ctx, e);
	return e;
}

static void endpoint_unref(struct binding_table *t, struct endpoint *e)
{
	struct endpoint **pp;

	if (--e->owners)
		return;
	if (t->ops && t->ops->closed)
		t->ops->closed(t->ctx, e);
	pp = &t->endpoint_hash[endpoint_hash(e->proto, &e->addr, e->port) & (t->endpoint_buckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	if (e->prev)
		e->prev->next = e->next;
	else
		t->endpoints = e->next;
	if (e->next)
		e->next->prev = e->prev;
	t->endpoint_count--;
	free(e);
}

static int binding_add(struct binding_table *t, const struct pev *ev)
{
	struct binding *b = bt_find(t, ev->owner, ev->proto, &ev->host_ip, ev->host_port);
	size_t i;

	if (b) {
		b->unconfirmed = 0;
		return 0;
	}
	b = calloc(1, sizeof *b);
	if (!b || !(b->owner = strdup(ev->owner))) {
		free(b);
		return -ENOMEM;
	}
	b->source_len = strlen(ev->source);
	b->proto = ev->proto;
	b->host_ip = ev->host_ip;
	b->host_port = ev->host_port;
	b->target_port = ev->target_port;
	b->target_ip = ev->target_ip;
	b->endpoint = endpoint_ref(t, ev->proto, &ev->host_ip, ev->host_port);
	if (!b->endpoint) {
		free(b->owner);
		free(b);
		return -ENOMEM;
	}
	b->endpoint_next = b->endpoint->bindings;
	if (b->endpoint->bindings)
		b->endpoint->bindings->endpoint_prev = b;
	b->endpoint->bindings = b;
	i = binding_hash(b->owner, b->proto, &b->host_ip, b->host_port) & (t->binding_buckets - 1);
	b->hash_next = t->binding_hash[i];
	t->binding_hash[i] = b;
	b->next = t->bindings;
	if (t->bindings)
		t->bindings->prev = b;
	t->bindings = b;
	t->binding_count++;
	grow_bindings(t);
	if (t->ops && t->ops->added)
		t->ops->added(t->ctx, b);
	return 1;
}

static void binding_remove(struct binding_table *t, struct binding *b)
{
	struct binding **pp;

	if (t->ops && t->ops->removed)
		t->ops->removed(t->ctx, b);
	pp = &t->binding_hash[binding_hash(b->owner, b->proto, &b->host_ip, b->host_port) &
			      (t->binding_buckets - 1)];
	while (*pp != b)
		pp = &(*pp)->hash_next;
	*pp = b->hash_next;
	if (b->prev)
		b->prev->next = b->next;
	else
		t->bindings = b->next;
	if (b->next)
		b->next->prev = b->prev;
	if (b->endpoint_prev)
		b->endpoint_prev->endpoint_next = b->endpoint_next;
	else
		b->endpoint->bindings = b->endpoint_next;
	if (b->endpoint_next)
		b->endpoint_next->endpoint_prev = b->endpoint_prev;
	t->binding_count--;
	endpoint_unref(t, b->endpoint);
	free(b->owner);
	free(b);
}

static int owned_by_source(const struct binding *b, const char *source)
{
	size_t len = strlen(source);

	return b->source_len == len && !memcmp(b->owner, source, len);
}

int bt_apply(struct binding_table *t, const struct pev *ev)
{
	struct binding *b, *next;
	int changed = 0;

	switch (ev->verb) {
	case PEV_ADD:
		return binding_add(t, ev);
	case PEV_DEL:
		b = bt_find(t, ev->owner, ev->proto, &ev->host_ip, ev->host_port);
		if (!b)
			return 0;
		binding_remove(t, b);
		return 1;
	case PEV_SYNC:
		for (b = t->bindings; b; b = b->next)
			if (owned_by_source(b, ev->source))
				b->unconfirmed = 1;
		return 0;
	case PEV_DONE:
		for (b = t->bindings; b; b = next) {
			next = b->next;
			if (b->unconfirmed && owned_by_source(b, ev->source)) {
				binding_remove(t, b);
				changed = 1;
			}
		}
		return changed;
	}
	return 0;
}

void bt_withdraw_all(struct binding_table *t)
{
	while (t->bindings)
		binding_remove(t, t->bindings);
}

void bt_binding_event(const struct binding *b, enum pev_verb verb, struct pev *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->verb = verb;
	memcpy(ev->source, b->owner, b->source_len);
	strcpy(ev->owner, b->owner);
	ev->proto = b->proto;
	ev->host_ip = b->host_ip;
	ev->host_port = b->host_port;
	ev->target_port = b->target_port;
	ev->target_ip = b->target_ip;
}
