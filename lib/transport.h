/* Stream transport addresses: parse, format, connect and listen.
 *
 *   tcp:HOST:PORT     HOST is an IPv4 literal or a bracketed IPv6 literal
 *                     (tcp:[::1]:3040); no host names, so nothing resolves
 *                     names through DNS
 *   unix:PATH         a filesystem socket path; "unix:@NAME" is the
 *                     abstract name NAME
 *   vsock:CID:PORT    AF_VSOCK (linux/vm_sockets.h); CID and PORT are
 *                     decimal 32-bit numbers, and CID may be ANY for a
 *                     listening address (VMADDR_CID_ANY)
 *
 * Every socket this module creates is non-blocking and close-on-exec.
 * Functions return 0 (or a descriptor) or -errno; the parser returns
 * -EINVAL with a static reason string. */
#ifndef RDAGENT_TRANSPORT_H
#define RDAGENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum transport_kind { TRANSPORT_TCP, TRANSPORT_UNIX, TRANSPORT_VSOCK };

/* Flags for transport_parse. */
enum {
	TRANSPORT_LISTEN = 1,   /* a listening address: vsock:ANY is accepted */
};

/* Longest accepted address text, without the NUL.  A unix path is limited
 * by sun_path (108 bytes on Linux) anyway. */
#define TRANSPORT_TEXT_MAX 127

struct transport_addr {
	enum transport_kind kind;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char text[TRANSPORT_TEXT_MAX + 1];   /* canonical form, for messages */
};

/* Parses text into addr.  flags is 0 or TRANSPORT_LISTEN.  Returns 0, or
 * -EINVAL with *reason set to a static string that says what is wrong. */
int transport_parse(const char *text, int flags, struct transport_addr *addr,
		    const char **reason);

/* Starts a non-blocking connect.  Returns the socket; *in_progress is 1
 * when the connect has not finished yet (wait for EPOLLOUT, then call
 * transport_connect_result).  Returns -errno when it failed at once. */
int transport_connect(const struct transport_addr *addr, int *in_progress);

/* Returns 0 when the connect on fd succeeded, or its -errno (SO_ERROR). */
int transport_connect_result(int fd);

/* Binds and listens (backlog SOMAXCONN) with SO_REUSEADDR for tcp.  A unix
 * path that exists and is a socket that nobody accepts on is removed
 * first; any other existing file is an error (-EADDRINUSE).  Returns the
 * listening socket or -errno. */
int transport_listen(const struct transport_addr *addr);

/* Accepts one connection as a non-blocking, close-on-exec socket.  Returns
 * it, or -errno (-EAGAIN when none is waiting). */
int transport_accept(int listen_fd);

#endif
