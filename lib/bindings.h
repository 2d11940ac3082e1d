/* The binding table that every sink keeps.
 *
 * A binding is (OWNER, PROTO, HOST_IP, HOST_PORT).  An endpoint is
 * (PROTO, HOST_IP, HOST_PORT): the thing a sink opens, shared by every
 * owner that holds it and reference-counted.  The table applies port events
 * with the stream's semantics (idempotent add and del, sync/done
 * snapshots per source) and tells the sink through callbacks what changed:
 * added/removed per binding, opened/closed per endpoint. */
#ifndef RDAGENT_BINDINGS_H
#define RDAGENT_BINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "pev.h"

struct endpoint {
	enum pev_proto proto;
	struct pev_addr addr;
	uint16_t port;
	unsigned owners;             /* bindings that reference this endpoint */
	void *data;                  /* sink-owned state, e.g. a socket */
	struct endpoint *hash_next;
	struct endpoint *prev, *next;
	/* The bindings that reference this endpoint, newest first, linked
	 * through binding.endpoint_next; owners counts them. */
	struct binding *bindings;
};

struct binding {
	char *owner;                 /* "SOURCE/ID", owned by the table */
	size_t source_len;           /* length of SOURCE in owner */
	enum pev_proto proto;
	struct pev_addr host_ip;
	uint16_t host_port;
	uint16_t target_port;        /* 0 when unknown */
	struct pev_addr target_ip;   /* family 0 when unknown */
	int unconfirmed;             /* inside a snapshot, not confirmed yet */
	struct endpoint *endpoint;
	void *data;                  /* sink-owned state */
	struct binding *hash_next;
	struct binding *prev, *next;
	/* Neighbours in endpoint->bindings. */
	struct binding *endpoint_prev, *endpoint_next;
};

/* Callbacks; any may be NULL.  added is called after opened (for the first
 * owner); removed is called before closed (for the last owner). */
struct binding_ops {
	void (*added)(void *ctx, struct binding *b);
	void (*removed)(void *ctx, struct binding *b);
	void (*opened)(void *ctx, struct endpoint *e);
	void (*closed)(void *ctx, struct endpoint *e);
};

struct binding_table {
	const struct binding_ops *ops;
	void *ctx;
	struct binding **binding_hash;
	struct endpoint **endpoint_hash;
	size_t binding_buckets, endpoint_buckets;
	size_t binding_count, endpoint_count;
	struct binding *bindings;    /* all bindings, newest first */
	struct endpoint *endpoints;  /* all endpoints, newest first */
};

int bt_init(struct binding_table *t, const struct binding_ops *ops, void *ctx);
/* Frees the table without calling any callback. */
void bt_free(struct binding_table *t);

/* Applies one event.  Returns 1 when it changed the table, 0 when it
 * changed nothing, or -ENOMEM (the table is then unchanged). */
int bt_apply(struct binding_table *t, const struct pev *ev);

/* Removes every binding, with callbacks, as at end of input. */
void bt_withdraw_all(struct binding_table *t);

struct binding *bt_find(struct binding_table *t, const char *owner, enum pev_proto proto,
			const struct pev_addr *host_ip, uint16_t host_port);
struct endpoint *bt_find_endpoint(struct binding_table *t, enum pev_proto proto,
				  const struct pev_addr *addr, uint16_t port);

/* Fills ev from b as an add or del line. */
void bt_binding_event(const struct binding *b, enum pev_verb verb, struct pev *ev);

#endif
