/* The PortMapping message that Rancher Desktop's Privileged Service
 * decodes, one JSON object per stream connection:
 *
 *   {"remove":false,
 *    "ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},
 *    "connectAddrs":[{"network":"ip+net","addr":"172.26.1.5/20"}]}\n
 *
 * (one line on the wire).  The field names are the JSON tags of
 * types.PortMapping and types.ConnectAddrs in rancher-desktop
 * src/go/guestagent/pkg/types/portmapping.go, whose Ports field is a
 * nat.PortMap from github.com/docker/go-connections/nat: a map from
 * "PORT/PROTO" to a list of nat.PortBinding {HostIp, HostPort}, both
 * strings.  The service (src/go/privileged-service/pkg/port/server.go)
 * reads it with json.NewDecoder(conn).Decode, and portproxy.go picks the
 * first IPv4 connectAddr for an IPv4 HostIp and the first IPv6 one for an
 * IPv6 HostIp.
 *
 * portmap_format writes the bytes that Go's json.Encoder writes for the
 * same value: fields in struct order, map keys sorted as byte strings,
 * list elements in the order given, and a trailing newline. */
#ifndef RDAGENT_PORTMAP_H
#define RDAGENT_PORTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "pev.h"

/* One entry of "ports": the key is "key_port/proto", the element
 * {"HostIp": host_ip, "HostPort": "host_port"}.  key_port is the binding's
 * target (container) port, or its host port when the target is unknown. */
struct portmap_binding {
	enum pev_proto proto;
	struct pev_addr host_ip;     /* family 0 is sent as "0.0.0.0" */
	uint16_t host_port;
	uint16_t key_port;
};

/* One entry of "connectAddrs": an address of the VM's network interface
 * with its prefix length, sent as {"network":"ip+net","addr":"IP/PREFIX"}
 * (the text of Go's net.IPNet.String, which the service parses with
 * net.ParseCIDR). */
struct portmap_addr {
	struct pev_addr addr;
	uint8_t prefix_len;
};

/* Bounds of one message.  A binding element is at most 84 bytes (key
 * "65535/sctp", a 39-byte IPv6 literal, a 5-digit port, and the JSON
 * around them) and a connectAddr at most 79, so a message with the
 * maximum counts stays below PORTMAP_MESSAGE_MAX. */
#define PORTMAP_BINDINGS_MAX 512
#define PORTMAP_ADDRS_MAX 64
#define PORTMAP_MESSAGE_MAX 65536
_Static_assert(64 + PORTMAP_BINDINGS_MAX * 84 + PORTMAP_ADDRS_MAX * 79 < PORTMAP_MESSAGE_MAX,
	       "a message with the maximum counts fits in PORTMAP_MESSAGE_MAX");

/* Writes the message into buf.  Sorts bindings[] in place by key (stable,
 * so bindings of one key keep their order).  Returns the length including
 * the newline, -EINVAL for a count above the maximum, or -ENOSPC when buf
 * is too small. */
int portmap_format(char *buf, size_t size, int remove,
		   struct portmap_binding *bindings, size_t binding_count,
		   const struct portmap_addr *addrs, size_t addr_count);

#endif
