/* Listening-socket queries over NETLINK_SOCK_DIAG (inet_diag), sans I/O.
 *
 * The caller opens a NETLINK_SOCK_DIAG socket, sends the request that
 * inetdiag_build_request writes, and passes every datagram it receives to
 * inetdiag_parse until that returns 0.  Message layouts are those of
 * <linux/sock_diag.h> and <linux/inet_diag.h> (uapi, Linux 3.3 and later).
 */
#ifndef RDAGENT_INETDIAG_H
#define RDAGENT_INETDIAG_H

#include <stddef.h>
#include <stdint.h>

/* Bytes that inetdiag_build_request needs: nlmsghdr (16), inet_diag_req_v2
 * (56), and one INET_DIAG_REQ_BYTECODE attribute of 4 + 16 bytes. */
#define INETDIAG_REQUEST_MAX 96

/* One socket from a dump reply; addresses and ports in host order. */
struct inetdiag_socket {
	int family;              /* AF_INET or AF_INET6 */
	uint8_t state;           /* TCP state number; 10 is LISTEN, 7 CLOSE */
	uint8_t addr[16];        /* local address; 4 bytes for AF_INET */
	uint16_t port;           /* local port */
	uint32_t inode;          /* socket inode, 0 when the kernel hides it */
	int v6only;              /* IPV6_V6ONLY for AF_INET6; -1 when not reported */
};

typedef void inetdiag_socket_cb(void *ctx, const struct inetdiag_socket *s);

/* Writes a SOCK_DIAG_BY_FAMILY dump request for sockets of family
 * (AF_INET or AF_INET6) and protocol (IPPROTO_TCP or IPPROTO_UDP) whose
 * state is in the bit mask states (1 << state) and, when port is not 0,
 * whose local port is port.  Returns the request length, or -EINVAL when
 * size is below INETDIAG_REQUEST_MAX or an argument is out of range. */
int inetdiag_build_request(void *buf, size_t size, uint32_t seq, int family,
			   int protocol, uint32_t states, uint16_t port);

/* Parses one received datagram of the dump answering request seq and
 * calls cb for each socket.  Returns 1 when the dump continues in a later
 * datagram, 0 after NLMSG_DONE, or a negative errno: the kernel's error
 * from NLMSG_ERROR, or -EBADMSG for a truncated or malformed message. */
int inetdiag_parse(const void *buf, size_t len, uint32_t seq,
		   inetdiag_socket_cb *cb, void *ctx);

#endif
