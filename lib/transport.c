/* see lib/transport.h */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* musl does not ship <linux/vm_sockets.h>, so the AF_VSOCK address is
 * declared here with the layout and values of the uapi header
 * (linux/vm_sockets.h, Linux 6.1): 16 bytes, like struct sockaddr. */
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define VSOCK_CID_ANY 0xffffffffu

struct transport_sockaddr_vm {
	sa_family_t svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	uint8_t svm_flags;
	unsigned char svm_zero[3];
};
_Static_assert(sizeof(struct transport_sockaddr_vm) == sizeof(struct sockaddr),
	       "struct sockaddr_vm is 16 bytes in the uapi header");

/* Parses a decimal number of len bytes in [0, max]; no sign, no spaces. */
static int parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_tcp(const char *s, struct transport_addr *addr, const char **reason)
{
	const char *host, *colon;
	size_t host_len;
	char host_text[INET6_ADDRSTRLEN];
	uint64_t port;
	int v6 = 0;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close) {
			*reason = "missing ']' after the IPv6 address";
			return -EINVAL;
		}
		host = s + 1;
		host_len = (size_t)(close - host);
		if (close[1] != ':') {
			*reason = "expected ':PORT' after ']'";
			return -EINVAL;
		}
		colon = close + 1;
		v6 = 1;
	} else {
		colon = strchr(s, ':');
		if (!colon) {
			*reason = "expected tcp:HOST:PORT";
			return -EINVAL;
		}
		if (strchr(colon + 1, ':')) {
			*reason = "an IPv6 address must be in brackets, as in tcp:[::1]:PORT";
			return -EINVAL;
		}
		host = s;
		host_len = (size_t)(colon - s);
	}
	if (host_len == 0 || host_len >= sizeof host_text) {
		*reason = "missing or over-long host address";
		return -EINVAL;
	}
	memcpy(host_text, host, host_len);
	host_text[host_len] = '\0';
	if (parse_decimal(colon + 1, strlen(colon + 1), 65535, &port) < 0 || port == 0) {
		*reason = "the port must be a decimal number from 1 to 65535";
		return -EINVAL;
	}

	memset(&addr->sa, 0, sizeof addr->sa);
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->sa;

		if (inet_pton(AF_INET6, host_text, &sin6->sin6_addr) != 1) {
			*reason = "invalid IPv6 address (host names and zones are not accepted)";
			return -EINVAL;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		addr->sa_len = sizeof *sin6;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host_text, sizeof host_text);
		snprintf(addr->text, sizeof addr->text, "tcp:[%s]:%u", host_text, (unsigned)port);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&addr->sa;

		if (inet_pton(AF_INET, host_text, &sin->sin_addr) != 1) {
			*reason = "invalid IPv4 address (host names are not accepted)";
			return -EINVAL;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		addr->sa_len = sizeof *sin;
		inet_ntop(AF_INET, &sin->sin_addr, host_text, sizeof host_text);
		snprintf(addr->text, sizeof addr->text, "tcp:%s:%u", host_text, (unsigned)port);
	}
	addr->kind = TRANSPORT_TCP;
	return 0;
}

static int parse_unix(const char *s, struct transport_addr *addr, const char **reason)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&addr->sa;
	size_t len = strlen(s);
	int abstract = s[0] == '@';

	if (len == 0 || (abstract && len == 1)) {
		*reason = "missing socket path";
		return -EINVAL;
	}
	/* A path needs its NUL inside sun_path; an abstract name does not. */
	if (len >= sizeof sun->sun_path) {
		*reason = "socket path longer than 107 bytes";
		return -EINVAL;
	}
	memset(&addr->sa, 0, sizeof addr->sa);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, s, len);
	if (abstract) {
		sun->sun_path[0] = '\0';
		addr->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		addr->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	addr->kind = TRANSPORT_UNIX;
	snprintf(addr->text, sizeof addr->text, "unix:%s", s);
	return 0;
}

static int parse_vsock(const char *s, int flags, struct transport_addr *addr, const char **reason)
{
	struct transport_sockaddr_vm *svm = (struct transport_sockaddr_vm *)&addr->sa;
	const char *colon = strchr(s, ':');
	uint64_t cid, port;

	if (!colon) {
		*reason = "expected vsock:CID:PORT";
		return -EINVAL;
	}
	if ((size_t)(colon - s) == 3 && memcmp(s, "ANY", 3) == 0) {
		cid = VSOCK_CID_ANY;
	} else if (parse_decimal(s, (size_t)(colon - s), 0xffffffffu, &cid) < 0) {
		*reason = "the CID must be a decimal 32-bit number or ANY";
		return -EINVAL;
	}
	if (cid == VSOCK_CID_ANY && !(flags & TRANSPORT_LISTEN)) {
		*reason = "CID ANY is only valid for a listening address";
		return -EINVAL;
	}
	if (parse_decimal(colon + 1, strlen(colon + 1), 0xffffffffu, &port) < 0) {
		*reason = "the port must be a decimal 32-bit number";
		return -EINVAL;
	}
	memset(&addr->sa, 0, sizeof addr->sa);
	svm->svm_family = AF_VSOCK;
	svm->svm_cid = (unsigned)cid;
	svm->svm_port = (unsigned)port;
	addr->sa_len = sizeof *svm;
	addr->kind = TRANSPORT_VSOCK;
	if (cid == VSOCK_CID_ANY)
		snprintf(addr->text, sizeof addr->text, "vsock:ANY:%u", (unsigned)port);
	else
		snprintf(addr->text, sizeof addr->text, "vsock:%u:%u", (unsigned)cid, (unsigned)port);
	return 0;
}

/* see lib/transport.h */
int transport_parse(const char *text, int flags, struct transport_addr *addr,
		    const char **reason)
{
	const char *unused;

	if (!reason)
		reason = &unused;
	*reason = "";
	if (strlen(text) > TRANSPORT_TEXT_MAX) {
		*reason = "address longer than 127 bytes";
		return -EINVAL;
	}
	if (strncmp(text, "tcp:", 4) == 0)
		return parse_tcp(text + 4, addr, reason);
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text + 5, addr, reason);
	if (strncmp(text, "vsock:", 6) == 0)
		return parse_vsock(text + 6, flags, addr, reason);
	*reason = "unknown address type: expected tcp:, unix: or vsock:";
	return -EINVAL;
}

static int open_socket(const struct transport_addr *addr)
{
	int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* see lib/transport.h */
int transport_connect(const struct transport_addr *addr, int *in_progress)
{
	int fd = open_socket(addr);

	*in_progress = 0;
	if (fd < 0)
		return fd;
	if (connect(fd, (const struct sockaddr *)&addr->sa, addr->sa_len) == 0)
		return fd;
	/* A unix socket returns EAGAIN when the backlog is full; a retry
	 * later is the only option, as for any other failure. */
	if (errno == EINPROGRESS) {
		*in_progress = 1;
		return fd;
	}
	int err = errno;

	close(fd);
	return -err;
}

/* see lib/transport.h */
int transport_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/* Removes a stale unix socket file: one that exists, is a socket, and
 * refuses connections.  Leaves anything else in place. */
static int remove_stale_socket(const struct transport_addr *addr)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&addr->sa;
	struct stat st;
	int fd;

	if (sun->sun_path[0] == '\0' || lstat(sun->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&addr->sa, addr->sa_len) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* see lib/transport.h */
int transport_listen(const struct transport_addr *addr)
{
	int fd, r, on = 1;

	if (addr->kind == TRANSPORT_UNIX) {
		r = remove_stale_socket(addr);
		if (r < 0)
			return r;
	}
	fd = open_socket(addr);
	if (fd < 0)
		return fd;
	if (addr->kind == TRANSPORT_TCP)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->sa_len) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* see lib/transport.h */
int transport_accept(int listen_fd)
{
	int fd;

	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}
