/* Turns NAT rules into port bindings and compares two scans.
 *
 * Which rules count:
 *   - DNAT rules in a chain whose name starts with one of the configured
 *     prefixes (the CNI portmap plugin's iptables backend writes one
 *     "CNI-DN-<hash>" chain per container); the owner is
 *     "iptables/<chain>";
 *   - DNAT rules in the chains "hostports" and "hostip_hostports" of the
 *     nf_tables table "cni_hostport", which the portmap plugin's nftables
 *     backend writes (containernetworking/plugins v1.5.0 and later,
 *     plugins/meta/portmap/portmap_nftables.go), one rule per port with
 *     the container ID as the rule comment; the owner is
 *     "iptables/cni_hostport/<comment>", or ".../<chain>" without one.
 * A rule binds its destination address when it matches one host (/32 or
 * /128), otherwise the any address of its family; each port of its
 * destination port range is one binding, at most max_range per rule.
 *
 * A set is sorted by (owner, proto, host address, host port), the binding
 * key of the port-event stream, so two scans compare in one pass. */
#ifndef RDAGENT_NATBIND_H
#define RDAGENT_NATBIND_H

#include <stddef.h>
#include <stdint.h>

#include "natrule.h"
#include "pev.h"

#define NATBIND_SOURCE "iptables"
/* Table and chains of the portmap plugin's nftables backend. */
#define NATBIND_NFT_TABLE "cni_hostport"

struct natbind_config {
	const char *const *prefixes;  /* chain name prefixes */
	size_t prefix_count;
	unsigned max_range;           /* bindings per rule, at least 1 */
};

struct natbind {
	size_t owner;                 /* offset of the owner string in the pool */
	enum pev_proto proto;
	struct pev_addr host_ip;
	uint16_t host_port;
	uint16_t target_port;         /* 0 when the rule keeps the port */
	struct pev_addr target_ip;    /* family 0 when the rule keeps the address */
};

struct natbind_set {
	struct natbind *items;
	size_t count, capacity;
	char *pool;                   /* NUL-terminated owner strings */
	size_t pool_len, pool_capacity;
	size_t last_owner;            /* reuse for consecutive rules of one owner */
	int has_last_owner;
};

/* Result of natbind_add_rule for one rule. */
struct natbind_outcome {
	unsigned added;               /* bindings added */
	int counted;                  /* the rule is a DNAT rule in a counted chain */
	int capped;                   /* its port range exceeded max_range */
	const char *skipped;          /* why a counted rule added nothing, or NULL */
};

void natbind_set_init(struct natbind_set *s);
void natbind_set_free(struct natbind_set *s);
/* Empties the set and keeps its memory. */
void natbind_set_clear(struct natbind_set *s);
static inline const char *natbind_owner(const struct natbind_set *s, const struct natbind *b)
{
	return s->pool + b->owner;
}

/* Returns 1 when a rule in this table and chain counts under config. */
int natbind_chain_counts(const struct natbind_config *c, const char *table, const char *chain);

/* Adds the bindings of rule to s.  Returns 0 and fills *out, or -ENOMEM
 * (s keeps what it had before the call). */
int natbind_add_rule(struct natbind_set *s, const struct natbind_config *c,
		     const struct nat_rule *rule, struct natbind_outcome *out);

/* Appends every binding of src to dst; 0 or -ENOMEM. */
int natbind_set_append(struct natbind_set *dst, const struct natbind_set *src);

/* Sorts by binding key and drops later duplicates of a key (the same port
 * twice in one chain), keeping the first rule's target. */
void natbind_set_finish(struct natbind_set *s);

/* Calls cb for every difference from old to new (both finished): PEV_DEL
 * for a binding that is gone, PEV_ADD for a new one, and PEV_DEL then
 * PEV_ADD for a binding whose target changed.  Stops at the first
 * negative value cb returns and returns it; otherwise returns the number
 * of events. */
typedef int natbind_event_cb(void *ctx, enum pev_verb verb, const struct natbind_set *s,
			     const struct natbind *b);
long natbind_diff(const struct natbind_set *old, const struct natbind_set *new_set,
		  natbind_event_cb *cb, void *ctx);

/* Fills ev as an add or del line for b; returns 0 or -1 when the owner
 * is not a valid port-event owner. */
int natbind_event(const struct natbind_set *s, const struct natbind *b, enum pev_verb verb,
		  struct pev *ev);

#endif
