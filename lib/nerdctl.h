/* Published ports as nerdctl records them for a container:
 *
 *   before nerdctl 2.1.3, the container label "nerdctl/ports", a JSON array
 *     [{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]
 *   from 2.1.3 on, the file network-config.json in the directory named by
 *   the label "nerdctl/state-dir", an object {"portMappings":[...same...]}.
 *
 * The entries are go-cni's PortMapping fields.  HostIP "" means any
 * address and is reported as 0.0.0.0.
 *
 * NOTE: no nerdctl is installed here, so the network-config.json shape
 * comes from nerdctl's description, not from a file nerdctl wrote. */
#ifndef RDAGENT_NERDCTL_H
#define RDAGENT_NERDCTL_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "pev.h"

#define NERDCTL_NETWORK_CONFIG "network-config.json"

struct nerdctl_port {
	enum pev_proto proto;
	struct pev_addr host_ip;
	uint16_t host_port;
	uint16_t container_port;
};

enum nerdctl_format {
	NERDCTL_LABEL,           /* the nerdctl/ports array */
	NERDCTL_NETWORK_CONFIG_FILE, /* the network-config.json object */
};

/* Parses text in the given format into ports (at most max entries) with
 * the caller's jsmn token array.  Returns the number of entries, or -1
 * with *reason set to a static description and *entry to the index of
 * the bad entry (-1 when the error is not in one entry).  On error, no
 * entry is to be used. */
int nerdctl_parse_ports(const char *text, size_t len, enum nerdctl_format format,
			jsmntok_t *tokens, int max_tokens,
			struct nerdctl_port *ports, size_t max, const char **reason, int *entry);

/* Upper bound of tokens a document of len bytes can need: every token
 * takes at least one byte plus a separator, except the last. */
static inline size_t nerdctl_max_tokens(size_t len)
{
	return len / 2 + 2;
}

#endif
