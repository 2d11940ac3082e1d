/* Unit tests for lib/transport (every address form, valid and invalid,
 * and a loopback connect/listen/accept), lib/portmap (the exact bytes of
 * the PortMapping message) and lib/ifaddr (RTM_NEWADDR parsing and a real
 * dump of lo).  Nothing here opens an AF_VSOCK socket. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ifaddr.h"
#include "portmap.h"
#include "transport.h"

static void assert_parses(const char *text, int flags, enum transport_kind kind,
			  const char *canonical)
{
	struct transport_addr a;
	const char *reason = NULL;
	int r = transport_parse(text, flags, &a, &reason);

	if (r != 0)
		fail_msg("'%s' rejected: %s", text, reason);
	assert_int_equal(a.kind, kind);
	assert_string_equal(a.text, canonical);
}

static void assert_rejected(const char *text, int flags, const char *reason_part)
{
	struct transport_addr a;
	const char *reason = NULL;

	assert_int_equal(transport_parse(text, flags, &a, &reason), -EINVAL);
	assert_non_null(reason);
	if (!strstr(reason, reason_part))
		fail_msg("'%s': reason '%s' lacks '%s'", text, reason, reason_part);
}

static void test_parse_tcp(void **state)
{
	struct transport_addr a;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.sa;

	(void)state;
	assert_parses("tcp:127.0.0.1:3040", 0, TRANSPORT_TCP, "tcp:127.0.0.1:3040");
	assert_int_equal(transport_parse("tcp:127.0.0.1:3040", 0, &a, NULL), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 3040);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(a.sa_len, sizeof *sin);

	assert_parses("tcp:[::1]:1", 0, TRANSPORT_TCP, "tcp:[::1]:1");
	assert_parses("tcp:[0:0:0:0:0:0:0:1]:65535", 0, TRANSPORT_TCP, "tcp:[::1]:65535");
	assert_int_equal(transport_parse("tcp:[::1]:65535", 0, &a, NULL), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 65535);
	assert_int_equal(a.sa_len, sizeof *sin6);
	assert_parses("tcp:0.0.0.0:80", TRANSPORT_LISTEN, TRANSPORT_TCP, "tcp:0.0.0.0:80");
	assert_parses("tcp:[::]:80", TRANSPORT_LISTEN, TRANSPORT_TCP, "tcp:[::]:80");
}

static void test_parse_tcp_invalid(void **state)
{
	(void)state;
	assert_rejected("tcp:", 0, "tcp:HOST:PORT");
	assert_rejected("tcp:127.0.0.1", 0, "tcp:HOST:PORT");
	assert_rejected("tcp:127.0.0.1:", 0, "port");
	assert_rejected("tcp:127.0.0.1:0", 0, "port");
	assert_rejected("tcp:127.0.0.1:65536", 0, "port");
	assert_rejected("tcp:127.0.0.1:99999999999", 0, "port");
	assert_rejected("tcp:127.0.0.1:+80", 0, "port");
	assert_rejected("tcp:127.0.0.1: 80", 0, "port");
	assert_rejected("tcp:127.0.0.1:80x", 0, "port");
	assert_rejected("tcp::80", 0, "host");
	assert_rejected("tcp:localhost:80", 0, "IPv4");
	assert_rejected("tcp:256.0.0.1:80", 0, "IPv4");
	assert_rejected("tcp:::1:80", 0, "brackets");
	assert_rejected("tcp:[::1]", 0, "':PORT'");
	assert_rejected("tcp:[::1:80", 0, "']'");
	assert_rejected("tcp:[]:80", 0, "host");
	assert_rejected("tcp:[127.0.0.1]:80", 0, "IPv6");
	assert_rejected("tcp:[fe80::1%eth0]:80", 0, "IPv6");
	assert_rejected("tcp:[::1]x:80", 0, "':PORT'");
}

static void test_parse_unix(void **state)
{
	struct transport_addr a;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;
	char path[120];

	(void)state;
	assert_parses("unix:/run/x.sock", 0, TRANSPORT_UNIX, "unix:/run/x.sock");
	assert_int_equal(transport_parse("unix:/run/x.sock", 0, &a, NULL), 0);
	assert_string_equal(sun->sun_path, "/run/x.sock");
	assert_int_equal(a.sa_len, offsetof(struct sockaddr_un, sun_path) + 12);
	assert_parses("unix:relative.sock", 0, TRANSPORT_UNIX, "unix:relative.sock");

	assert_int_equal(transport_parse("unix:@vt", 0, &a, NULL), 0);
	assert_int_equal(sun->sun_path[0], 0);
	assert_memory_equal(sun->sun_path + 1, "vt", 2);
	assert_int_equal(a.sa_len, offsetof(struct sockaddr_un, sun_path) + 3);

	/* 107 bytes plus the NUL fill sun_path; 108 do not fit. */
	memset(path, 'a', sizeof path);
	memcpy(path, "unix:", 5);
	path[5 + 107] = '\0';
	assert_int_equal(transport_parse(path, 0, &a, NULL), 0);
	path[5 + 107] = 'a';
	path[5 + 108] = '\0';
	assert_rejected(path, 0, "longer");
	assert_rejected("unix:", 0, "missing");
	assert_rejected("unix:@", 0, "missing");
}

static void test_parse_vsock(void **state)
{
	(void)state;
	assert_parses("vsock:2:17381", 0, TRANSPORT_VSOCK, "vsock:2:17381");
	assert_parses("vsock:1:0", 0, TRANSPORT_VSOCK, "vsock:1:0");
	assert_parses("vsock:ANY:17382", TRANSPORT_LISTEN, TRANSPORT_VSOCK, "vsock:ANY:17382");
	assert_parses("vsock:4294967295:1", TRANSPORT_LISTEN, TRANSPORT_VSOCK, "vsock:ANY:1");
	assert_parses("vsock:3:4294967295", 0, TRANSPORT_VSOCK, "vsock:3:4294967295");
	assert_rejected("vsock:ANY:17382", 0, "only valid for a listening");
	assert_rejected("vsock:4294967295:1", 0, "only valid for a listening");
	assert_rejected("vsock:2", 0, "vsock:CID:PORT");
	assert_rejected("vsock::1", 0, "CID");
	assert_rejected("vsock:any:1", TRANSPORT_LISTEN, "CID");
	assert_rejected("vsock:-1:1", TRANSPORT_LISTEN, "CID");
	assert_rejected("vsock:4294967296:1", 0, "CID");
	assert_rejected("vsock:2:", 0, "port");
	assert_rejected("vsock:2:4294967296", 0, "port");
	assert_rejected("vsock:2:1:1", 0, "port");
}

static void test_parse_other(void **state)
{
	char longer[200];

	(void)state;
	assert_rejected("", 0, "unknown address type");
	assert_rejected("udp:127.0.0.1:53", 0, "unknown address type");
	assert_rejected("TCP:127.0.0.1:53", 0, "unknown address type");
	assert_rejected("127.0.0.1:3040", 0, "unknown address type");
	memset(longer, '1', sizeof longer);
	memcpy(longer, "tcp:", 4);
	longer[sizeof longer - 1] = '\0';
	assert_rejected(longer, 0, "longer than 127");
	/* reason may be NULL. */
	struct transport_addr a;
	assert_int_equal(transport_parse("bad", 0, &a, NULL), -EINVAL);
}

static void test_loopback_roundtrip(void **state)
{
	struct transport_addr a;
	struct sockaddr_in bound;
	socklen_t len = sizeof bound;
	char text[64], buf[8];
	int lfd, cfd, afd, in_progress;

	(void)state;
	assert_int_equal(transport_parse("tcp:127.0.0.1:1", TRANSPORT_LISTEN, &a, NULL), 0);
	/* Port 1 needs root; bind an ephemeral port through the same code by
	 * patching the port to 0 after parsing. */
	((struct sockaddr_in *)&a.sa)->sin_port = 0;
	lfd = transport_listen(&a);
	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&bound, &len), 0);
	snprintf(text, sizeof text, "tcp:127.0.0.1:%u", (unsigned)ntohs(bound.sin_port));
	assert_int_equal(transport_parse(text, 0, &a, NULL), 0);
	cfd = transport_connect(&a, &in_progress);
	assert_true(cfd >= 0);
	/* Loopback completes at once or shortly; wait with a blocking accept. */
	do
		afd = transport_accept(lfd);
	while (afd == -EAGAIN && usleep(1000) == 0);
	assert_true(afd >= 0);
	assert_int_equal(transport_connect_result(cfd), 0);
	assert_int_equal(write(cfd, "hi", 2), 2);
	do
		len = (socklen_t)read(afd, buf, sizeof buf);
	while ((int)len < 0 && errno == EAGAIN && usleep(1000) == 0);
	assert_int_equal(len, 2);
	close(cfd);
	close(afd);
	close(lfd);
}

static void test_unix_stale_socket(void **state)
{
	struct transport_addr a;
	char text[80];
	int fd, in_progress, cfd;

	(void)state;
	snprintf(text, sizeof text, "unix:/tmp/rdagent-unit-%d.sock", (int)getpid());
	assert_int_equal(transport_parse(text, TRANSPORT_LISTEN, &a, NULL), 0);
	fd = transport_listen(&a);
	assert_true(fd >= 0);
	/* A live listener is not replaced. */
	assert_int_equal(transport_listen(&a), -EADDRINUSE);
	close(fd);
	/* The file left behind is stale now and is replaced. */
	fd = transport_listen(&a);
	assert_true(fd >= 0);
	cfd = transport_connect(&a, &in_progress);
	assert_true(cfd >= 0);
	assert_int_equal(in_progress, 0);
	close(cfd);
	close(fd);
	unlink(text + 5);
	/* No listener: connect fails at once with the errno of connect(2). */
	assert_int_equal(transport_connect(&a, &in_progress), -ENOENT);
}

static struct portmap_binding binding(enum pev_proto proto, const char *ip, uint16_t host_port,
				      uint16_t key_port)
{
	struct portmap_binding b;

	memset(&b, 0, sizeof b);
	b.proto = proto;
	if (ip)
		assert_int_equal(pev_addr_parse(ip, strlen(ip), &b.host_ip), 0);
	b.host_port = host_port;
	b.key_port = key_port;
	return b;
}

static void test_portmap_message(void **state)
{
	struct portmap_binding b[4];
	struct portmap_addr ca[2];
	char buf[1024];
	int len;

	(void)state;
	b[0] = binding(PEV_TCP, "0.0.0.0", 8080, 80);
	b[1] = binding(PEV_UDP, "::", 5353, 53);
	b[2] = binding(PEV_TCP, NULL, 8081, 80);
	b[3] = binding(PEV_SCTP, "2001:db8::1", 9, 9);
	memset(ca, 0, sizeof ca);
	assert_int_equal(pev_addr_parse("172.26.1.5", 10, &ca[0].addr), 0);
	ca[0].prefix_len = 20;
	assert_int_equal(pev_addr_parse("fe80::1", 7, &ca[1].addr), 0);
	ca[1].prefix_len = 64;
	len = portmap_format(buf, sizeof buf, 0, b, 4, ca, 2);
	/* Keys sorted as byte strings, as Go's encoding/json sorts map keys;
	 * bindings of one key keep their order; an unset HostIp is 0.0.0.0. */
	const char *expected =
		"{\"remove\":false,\"ports\":{"
		"\"53/udp\":[{\"HostIp\":\"::\",\"HostPort\":\"5353\"}],"
		"\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"},"
		"{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8081\"}],"
		"\"9/sctp\":[{\"HostIp\":\"2001:db8::1\",\"HostPort\":\"9\"}]},"
		"\"connectAddrs\":[{\"network\":\"ip+net\",\"addr\":\"172.26.1.5/20\"},"
		"{\"network\":\"ip+net\",\"addr\":\"fe80::1/64\"}]}\n";
	assert_string_equal(buf, expected);
	assert_int_equal(len, (int)strlen(expected));
}

static void test_portmap_remove_and_bounds(void **state)
{
	struct portmap_binding b = binding(PEV_TCP, "127.0.0.1", 1, 1);
	static struct portmap_binding many[PORTMAP_BINDINGS_MAX + 1];
	char buf[128];
	int len;

	(void)state;
	len = portmap_format(buf, sizeof buf, 1, &b, 1, NULL, 0);
	assert_string_equal(buf, "{\"remove\":true,\"ports\":{\"1/tcp\":[{\"HostIp\":\"127.0.0.1\","
			    "\"HostPort\":\"1\"}]},\"connectAddrs\":[]}\n");
	assert_int_equal(len, (int)strlen(buf));
	/* Every prefix of the buffer that is too short fails cleanly. */
	for (size_t size = 0; size < (size_t)len + 1; size++)
		assert_int_equal(portmap_format(buf, size, 1, &b, 1, NULL, 0), -ENOSPC);
	assert_int_equal(portmap_format(buf, sizeof buf, 1, many, PORTMAP_BINDINGS_MAX + 1, NULL, 0),
			 -EINVAL);
}

static void test_portmap_worst_case_fits(void **state)
{
	static struct portmap_binding b[PORTMAP_BINDINGS_MAX];
	static struct portmap_addr ca[PORTMAP_ADDRS_MAX];
	static char buf[PORTMAP_MESSAGE_MAX];

	(void)state;
	for (size_t i = 0; i < PORTMAP_BINDINGS_MAX; i++)
		b[i] = binding(PEV_SCTP, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
			       (uint16_t)(65535 - i));
	for (size_t i = 0; i < PORTMAP_ADDRS_MAX; i++) {
		assert_int_equal(pev_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 39,
						&ca[i].addr), 0);
		ca[i].prefix_len = 128;
	}
	assert_true(portmap_format(buf, sizeof buf, 0, b, PORTMAP_BINDINGS_MAX, ca,
				   PORTMAP_ADDRS_MAX) > 0);
}

/* Builds an RTM_NEWADDR message as the kernel sends it. */
static size_t newaddr(uint8_t *buf, size_t size, uint8_t family, uint8_t prefix, uint32_t index,
		      const void *local, const void *address, size_t addr_len)
{
	struct nl_msg m;
	struct ifaddr_msg *ifa;

	nl_msg_init(&m, buf, size, IFADDR_RTM_NEWADDR, 0, 0);
	ifa = nl_msg_put_extra(&m, sizeof *ifa);
	ifa->family = family;
	ifa->prefix_len = prefix;
	ifa->index = index;
	if (address)
		nl_msg_put_attr(&m, IFADDR_ATTR_ADDRESS, address, addr_len);
	if (local)
		nl_msg_put_attr(&m, IFADDR_ATTR_LOCAL, local, addr_len);
	return (size_t)nl_msg_end(&m);
}

static void test_ifaddr_parse(void **state)
{
	uint8_t buf[128];
	uint8_t v4[4] = { 192, 0, 2, 7 }, peer[4] = { 192, 0, 2, 1 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct ifaddr_set set;
	char text[64];

	(void)state;
	memset(&set, 0, sizeof set);
	newaddr(buf, sizeof buf, AF_INET, 24, 5, NULL, v4, 4);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), 1);
	/* Another interface is skipped. */
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 6, &set), 0);
	/* Point-to-point: IFA_LOCAL is the interface's own address. */
	newaddr(buf, sizeof buf, AF_INET, 32, 5, v4, peer, 4);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), 1);
	newaddr(buf, sizeof buf, AF_INET6, 64, 5, NULL, v6, 16);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), 1);
	assert_int_equal(set.count, 3);
	assert_string_equal(pev_addr_format(&set.addrs[0].addr, text, sizeof text), "192.0.2.7");
	assert_int_equal(set.addrs[0].prefix_len, 24);
	assert_string_equal(pev_addr_format(&set.addrs[1].addr, text, sizeof text), "192.0.2.7");
	assert_string_equal(pev_addr_format(&set.addrs[2].addr, text, sizeof text), "2001:db8::1");
	assert_int_equal(set.addrs[2].prefix_len, 64);

	/* Malformed: wrong address length, missing address, bad prefix. */
	newaddr(buf, sizeof buf, AF_INET, 24, 5, NULL, v6, 16);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), -EBADMSG);
	newaddr(buf, sizeof buf, AF_INET, 24, 5, NULL, NULL, 0);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), -EBADMSG);
	newaddr(buf, sizeof buf, AF_INET, 33, 5, NULL, v4, 4);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), -EBADMSG);
	/* A truncated family header. */
	struct nl_hdr *h = (struct nl_hdr *)buf;
	h->len = NL_HDR_LEN + 4;
	assert_int_equal(ifaddr_parse(h, 5, &set), -EBADMSG);
	assert_int_equal(set.count, 3);

	/* Beyond PORTMAP_ADDRS_MAX addresses are counted, not stored. */
	set.count = PORTMAP_ADDRS_MAX;
	newaddr(buf, sizeof buf, AF_INET, 24, 5, NULL, v4, 4);
	assert_int_equal(ifaddr_parse((struct nl_hdr *)buf, 5, &set), 0);
	assert_int_equal(set.dropped, 1);
}

static void test_ifaddr_dump_lo(void **state)
{
	static uint8_t buf[NL_RECV_BUF_SIZE];
	struct ifaddr_set set, again;
	char text[64];
	int fd = nl_sock_open(NL_PROTO_ROUTE, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ifaddr_dump(fd, 1, if_nametoindex("lo"), &set, buf, sizeof buf), 0);
	assert_true(set.count >= 1);
	assert_string_equal(pev_addr_format(&set.addrs[0].addr, text, sizeof text), "127.0.0.1");
	assert_int_equal(set.addrs[0].prefix_len, 8);
	assert_int_equal(ifaddr_dump(fd, 2, if_nametoindex("lo"), &again, buf, sizeof buf), 0);
	assert_true(ifaddr_set_equal(&set, &again));
	again.addrs[0].prefix_len = 9;
	assert_false(ifaddr_set_equal(&set, &again));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_tcp),
		cmocka_unit_test(test_parse_tcp_invalid),
		cmocka_unit_test(test_parse_unix),
		cmocka_unit_test(test_parse_vsock),
		cmocka_unit_test(test_parse_other),
		cmocka_unit_test(test_loopback_roundtrip),
		cmocka_unit_test(test_unix_stale_socket),
		cmocka_unit_test(test_portmap_message),
		cmocka_unit_test(test_portmap_remove_and_bounds),
		cmocka_unit_test(test_portmap_worst_case_fits),
		cmocka_unit_test(test_ifaddr_parse),
		cmocka_unit_test(test_ifaddr_dump_lo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
