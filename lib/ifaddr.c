/* see lib/ifaddr.h */
#include "ifaddr.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct ifaddr_msg) == 8, "struct ifaddrmsg is 8 bytes in the uapi header");

/* see lib/ifaddr.h */
int ifaddr_parse(const struct nl_hdr *msg, uint32_t ifindex, struct ifaddr_set *set)
{
	const struct nl_attr *tb[IFADDR_ATTR_MAX + 1];
	const struct ifaddr_msg *ifa;
	const struct nl_attr *attrs, *a;
	size_t attrs_len, addr_len;
	struct portmap_addr *out;

	if (msg->type != IFADDR_RTM_NEWADDR)
		return 0;
	if (nl_msg_payload_len(msg) < sizeof *ifa)
		return -EBADMSG;
	ifa = nl_msg_payload(msg);
	if (ifa->index != ifindex)
		return 0;
	if (ifa->family == AF_INET)
		addr_len = 4;
	else if (ifa->family == AF_INET6)
		addr_len = 16;
	else
		return 0;
	if ((ifa->family == AF_INET && ifa->prefix_len > 32) || ifa->prefix_len > 128)
		return -EBADMSG;
	attrs = nl_msg_attrs(msg, sizeof *ifa, &attrs_len);
	if (nl_attr_parse(attrs, attrs_len, tb, IFADDR_ATTR_MAX) < 0)
		return -EBADMSG;
	a = tb[IFADDR_ATTR_LOCAL] ? tb[IFADDR_ATTR_LOCAL] : tb[IFADDR_ATTR_ADDRESS];
	if (!a)
		return -EBADMSG;
	if (nl_attr_payload_len(a) != addr_len)
		return -EBADMSG;
	if (set->count == PORTMAP_ADDRS_MAX) {
		set->dropped++;
		return 0;
	}
	out = &set->addrs[set->count++];
	memset(out, 0, sizeof *out);
	out->addr.family = ifa->family;
	memcpy(out->addr.bytes, nl_attr_payload(a), addr_len);
	out->prefix_len = ifa->prefix_len;
	return 1;
}

/* see lib/ifaddr.h */
int ifaddr_dump_request(void *buf, size_t size, uint32_t seq)
{
	struct nl_msg m;
	struct ifaddr_msg *ifa;

	nl_msg_init(&m, buf, size, IFADDR_RTM_GETADDR, NL_F_REQUEST | NL_F_DUMP, seq);
	ifa = nl_msg_put_extra(&m, sizeof *ifa);
	if (ifa)
		ifa->family = AF_UNSPEC;
	return nl_msg_end(&m);
}

struct dump_ctx {
	uint32_t ifindex;
	struct ifaddr_set *set;
};

static int dump_cb(const struct nl_hdr *msg, void *ctx)
{
	struct dump_ctx *d = ctx;
	int r = ifaddr_parse(msg, d->ifindex, d->set);

	return r < 0 ? r : NL_CB_OK;
}

/* see lib/ifaddr.h */
int ifaddr_dump(int fd, uint32_t seq, uint32_t ifindex, struct ifaddr_set *set,
		void *buf, size_t size)
{
	uint8_t req[64];
	struct dump_ctx d = { ifindex, set };
	int len = ifaddr_dump_request(req, sizeof req, seq);

	if (len < 0)
		return len;
	memset(set, 0, sizeof *set);
	return nl_sock_request(fd, req, (size_t)len, buf, size, dump_cb, &d);
}

/* see lib/ifaddr.h */
int ifaddr_set_equal(const struct ifaddr_set *a, const struct ifaddr_set *b)
{
	if (a->count != b->count)
		return 0;
	for (size_t i = 0; i < a->count; i++)
		if (a->addrs[i].prefix_len != b->addrs[i].prefix_len ||
		    !pev_addr_equal(&a->addrs[i].addr, &b->addrs[i].addr))
			return 0;
	return 1;
}
