/* see lib/natbind.h */
#include "natbind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* see lib/natbind.h */
void natbind_set_init(struct natbind_set *s)
{
	memset(s, 0, sizeof *s);
}

/* see lib/natbind.h */
void natbind_set_free(struct natbind_set *s)
{
	free(s->items);
	free(s->pool);
	natbind_set_init(s);
}

/* see lib/natbind.h */
void natbind_set_clear(struct natbind_set *s)
{
	s->count = 0;
	s->pool_len = 0;
	s->has_last_owner = 0;
}

static int grow(void **p, size_t *capacity, size_t need, size_t elem)
{
	size_t cap = *capacity ? *capacity : 64;
	void *q;

	if (need <= *capacity)
		return 0;
	while (cap < need) {
		if (cap > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		cap *= 2;
	}
	q = realloc(*p, cap * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*capacity = cap;
	return 0;
}

/* Stores owner in the pool (once for consecutive equal owners); returns
 * its offset through *offset, or -ENOMEM. */
static int intern_owner(struct natbind_set *s, const char *owner, size_t *offset)
{
	size_t len = strlen(owner) + 1;

	if (s->has_last_owner && strcmp(s->pool + s->last_owner, owner) == 0) {
		*offset = s->last_owner;
		return 0;
	}
	if (grow((void **)&s->pool, &s->pool_capacity, s->pool_len + len, 1) < 0)
		return -ENOMEM;
	memcpy(s->pool + s->pool_len, owner, len);
	*offset = s->pool_len;
	s->last_owner = s->pool_len;
	s->has_last_owner = 1;
	s->pool_len += len;
	return 0;
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int is_portmap_nft_chain(const char *table, const char *chain)
{
	return strcmp(table, NATBIND_NFT_TABLE) == 0 &&
	       (strcmp(chain, "hostports") == 0 || strcmp(chain, "hostip_hostports") == 0);
}

/* see lib/natbind.h */
int natbind_chain_counts(const struct natbind_config *c, const char *table, const char *chain)
{
	if (is_portmap_nft_chain(table, chain))
		return 1;
	if (strcmp(table, "nat") != 0)
		return 0;
	for (size_t i = 0; i < c->prefix_count; i++)
		if (has_prefix(chain, c->prefixes[i]))
			return 1;
	return 0;
}

/* An owner ID is printable ASCII without spaces (docs/port-events.md). */
static int id_valid(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

/* Builds the owner string; returns 0 or -1 when no valid owner exists. */
static int rule_owner(const struct nat_rule *r, char *owner, size_t size)
{
	int n;

	if (is_portmap_nft_chain(r->table, r->chain)) {
		const char *id = id_valid(r->comment) ? r->comment : r->chain;

		n = snprintf(owner, size, NATBIND_SOURCE "/" NATBIND_NFT_TABLE "/%s", id);
	} else {
		if (!id_valid(r->chain))
			return -1;
		n = snprintf(owner, size, NATBIND_SOURCE "/%s", r->chain);
	}
	/* The ID after "iptables/" is at most PEV_ID_MAX bytes. */
	if (n < 0 || (size_t)n >= size || (size_t)n - sizeof NATBIND_SOURCE > PEV_ID_MAX)
		return -1;
	return 0;
}

static uint16_t target_port(const struct nat_rule *r, uint16_t host_port)
{
	if (r->to_port_min == 0)
		return 0;
	if (r->to_port_offset) {
		long p = (long)r->to_port_min + (long)host_port - (long)r->to_port_base;

		return p >= r->to_port_min && p <= r->to_port_max ? (uint16_t)p : 0;
	}
	/* A range without an offset lets the kernel pick any port of it,
	 * so the target port is unknown. */
	return r->to_port_min == r->to_port_max ? r->to_port_min : 0;
}

/* see lib/natbind.h */
int natbind_add_rule(struct natbind_set *s, const struct natbind_config *c,
		     const struct nat_rule *rule, struct natbind_outcome *out)
{
	char owner[PEV_OWNER_MAX];
	struct natbind b;
	unsigned ports, limit;
	size_t saved_count = s->count, saved_pool = s->pool_len;
	int saved_has_last = s->has_last_owner;
	size_t saved_last = s->last_owner;

	memset(out, 0, sizeof *out);
	if (!rule->dnat || !natbind_chain_counts(c, rule->table, rule->chain))
		return 0;
	out->counted = 1;
	if (rule->unsupported) {
		out->skipped = rule->unsupported;
		return 0;
	}
	if (!rule->has_proto) {
		out->skipped = "no protocol match (-p tcp, udp or sctp)";
		return 0;
	}
	if (rule->dport_min == 0 || rule->dport_max < rule->dport_min) {
		out->skipped = "no destination port match";
		return 0;
	}
	if (rule_owner(rule, owner, sizeof owner) < 0) {
		out->skipped = "chain name or comment is not a valid owner";
		return 0;
	}

	memset(&b, 0, sizeof b);
	b.proto = rule->proto;
	if (rule->has_daddr && rule->daddr_prefix == (rule->daddr.family == AF_INET ? 32u : 128u)) {
		b.host_ip = rule->daddr;
	} else {
		b.host_ip.family = rule->family;
	}
	if (rule->to_addr.family)
		b.target_ip = rule->to_addr;

	ports = (unsigned)(rule->dport_max - rule->dport_min) + 1;
	limit = c->max_range ? c->max_range : 1;
	if (ports > limit) {
		out->capped = 1;
		ports = limit;
	}
	if (intern_owner(s, owner, &b.owner) < 0 ||
	    grow((void **)&s->items, &s->capacity, s->count + ports, sizeof b) < 0)
		goto nomem;
	for (unsigned i = 0; i < ports; i++) {
		b.host_port = (uint16_t)(rule->dport_min + i);
		b.target_port = target_port(rule, b.host_port);
		s->items[s->count++] = b;
	}
	out->added = ports;
	return 0;
nomem:
	s->count = saved_count;
	s->pool_len = saved_pool;
	s->has_last_owner = saved_has_last;
	s->last_owner = saved_last;
	return -ENOMEM;
}

/* see lib/natbind.h */
int natbind_set_append(struct natbind_set *dst, const struct natbind_set *src)
{
	size_t base = dst->pool_len;

	if (grow((void **)&dst->pool, &dst->pool_capacity, dst->pool_len + src->pool_len, 1) < 0 ||
	    grow((void **)&dst->items, &dst->capacity, dst->count + src->count,
		 sizeof *dst->items) < 0)
		return -ENOMEM;
	if (src->pool_len)
		memcpy(dst->pool + dst->pool_len, src->pool, src->pool_len);
	dst->pool_len += src->pool_len;
	for (size_t i = 0; i < src->count; i++) {
		dst->items[dst->count] = src->items[i];
		dst->items[dst->count].owner += base;
		dst->count++;
	}
	dst->has_last_owner = 0;
	return 0;
}

static int addr_compare(const struct pev_addr *a, const struct pev_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

static int key_compare(const struct natbind_set *sa, const struct natbind *a,
		       const struct natbind_set *sb, const struct natbind *b)
{
	int r = strcmp(natbind_owner(sa, a), natbind_owner(sb, b));

	if (r)
		return r;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	r = addr_compare(&a->host_ip, &b->host_ip);
	if (r)
		return r;
	if (a->host_port != b->host_port)
		return a->host_port < b->host_port ? -1 : 1;
	return 0;
}

/* qsort has no context argument, and sorting must not reorder equal keys
 * arbitrarily (the first rule's target wins), so the set is sorted by a
 * merge sort of indexes with the pool at hand. */
static void merge_sort(const struct natbind_set *s, struct natbind *v, struct natbind *tmp,
		       size_t n)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n < 2)
		return;
	merge_sort(s, v, tmp, mid);
	merge_sort(s, v + mid, tmp, n - mid);
	while (i < mid && j < n)
		tmp[k++] = key_compare(s, &v[j], s, &v[i]) < 0 ? v[j++] : v[i++];
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof *v);
}

/* see lib/natbind.h */
void natbind_set_finish(struct natbind_set *s)
{
	struct natbind *tmp;
	size_t out = 0;

	if (s->count < 2)
		return;
	tmp = malloc(s->count * sizeof *tmp);
	if (tmp) {
		merge_sort(s, s->items, tmp, s->count);
		free(tmp);
	} else {
		/* Without scratch memory, an insertion sort keeps the order
		 * stable; slow, but only when memory has run out. */
		for (size_t i = 1; i < s->count; i++) {
			struct natbind b = s->items[i];
			size_t j = i;

			while (j > 0 && key_compare(s, &b, s, &s->items[j - 1]) < 0) {
				s->items[j] = s->items[j - 1];
				j--;
			}
			s->items[j] = b;
		}
	}
	for (size_t i = 0; i < s->count; i++)
		if (out == 0 || key_compare(s, &s->items[out - 1], s, &s->items[i]) != 0)
			s->items[out++] = s->items[i];
	s->count = out;
}

static int same_target(const struct natbind *a, const struct natbind *b)
{
	if (a->target_port != b->target_port || a->target_ip.family != b->target_ip.family)
		return 0;
	return !a->target_ip.family || addr_compare(&a->target_ip, &b->target_ip) == 0;
}

/* see lib/natbind.h */
long natbind_diff(const struct natbind_set *old, const struct natbind_set *new_set,
		  natbind_event_cb *cb, void *ctx)
{
	size_t i = 0, j = 0;
	long events = 0;
	int r;

	while (i < old->count || j < new_set->count) {
		int c;

		if (i == old->count)
			c = 1;
		else if (j == new_set->count)
			c = -1;
		else
			c = key_compare(old, &old->items[i], new_set, &new_set->items[j]);

		if (c < 0) {
			r = cb(ctx, PEV_DEL, old, &old->items[i++]);
			events++;
		} else if (c > 0) {
			r = cb(ctx, PEV_ADD, new_set, &new_set->items[j++]);
			events++;
		} else {
			r = 0;
			if (!same_target(&old->items[i], &new_set->items[j])) {
				r = cb(ctx, PEV_DEL, old, &old->items[i]);
				if (r >= 0)
					r = cb(ctx, PEV_ADD, new_set, &new_set->items[j]);
				events += 2;
			}
			i++;
			j++;
		}
		if (r < 0)
			return r;
	}
	return events;
}

/* see lib/natbind.h */
int natbind_event(const struct natbind_set *s, const struct natbind *b, enum pev_verb verb,
		  struct pev *ev)
{
	return pev_set_binding(ev, verb, natbind_owner(s, b), b->proto, &b->host_ip, b->host_port,
			       b->target_port, b->target_ip.family ? &b->target_ip : NULL);
}
