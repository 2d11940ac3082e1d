/* The port-event stream: one event per line, at most PEV_LINE_MAX bytes.
 *
 *   add OWNER PROTO HOST_IP HOST_PORT TARGET_PORT [KEY=VALUE ...]
 *   del OWNER PROTO HOST_IP HOST_PORT TARGET_PORT [KEY=VALUE ...]
 *   sync SOURCE
 *   done SOURCE
 *
 * docs/port-events.md is the user-facing description.  The parser is
 * strict: anything outside the grammar is rejected with a reason, never
 * repaired. */
#ifndef RDAGENT_PEV_H
#define RDAGENT_PEV_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Maximum line length including the newline.  Below PIPE_BUF (4096), so a
 * line written with one write(2) never interleaves with other writers. */
#define PEV_LINE_MAX 1024
#define PEV_SOURCE_MAX 32
#define PEV_ID_MAX 255
/* SOURCE "/" ID plus the terminating NUL. */
#define PEV_OWNER_MAX (PEV_SOURCE_MAX + 1 + PEV_ID_MAX + 1)
#define PEV_ATTRS_MAX PEV_LINE_MAX

enum pev_verb { PEV_ADD, PEV_DEL, PEV_SYNC, PEV_DONE };
enum pev_proto { PEV_TCP, PEV_UDP, PEV_SCTP };

/* An IPv4 or IPv6 address; IPv4 is kept as 4 bytes with family AF_INET. */
struct pev_addr {
	int family;                  /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

struct pev {
	enum pev_verb verb;
	char source[PEV_SOURCE_MAX + 1];   /* for every verb; the OWNER prefix for add/del */
	/* The fields below are set for add and del only. */
	char owner[PEV_OWNER_MAX];
	enum pev_proto proto;
	struct pev_addr host_ip;
	uint16_t host_port;
	uint16_t target_port;              /* 0 when the line has '-' */
	struct pev_addr target_ip;         /* family 0 when there is no target_ip= attribute */
	/* KEY=VALUE fields other than target_ip, as given and space-separated,
	 * or "".  Consumers pass them on and ignore keys they do not know. */
	char attrs[PEV_ATTRS_MAX];
};

/* Parses one line without its newline.  Returns 0 for an event, 1 for a
 * line to ignore (empty or a '#' comment), or -1 with *reason set to a
 * static string that gives the reason the line was rejected. */
int pev_parse(const char *line, size_t len, struct pev *ev, const char **reason);

/* Formats ev with its trailing newline and a NUL into buf; returns the
 * length without the NUL, or -1 when it does not fit in size or the line
 * would exceed PEV_LINE_MAX bytes.  A buffer of PEV_LINE_MAX + 1 bytes
 * holds every line the format allows. */
int pev_format(const struct pev *ev, char *buf, size_t size);

/* Writes ev to fd with a single write(2).  Returns 0 or -errno; -EINVAL when
 * the event cannot be formatted. */
int pev_write(int fd, const struct pev *ev);

/* Helpers shared by sources that build events. */
const char *pev_proto_name(enum pev_proto proto);
int pev_proto_parse(const char *s, size_t len, enum pev_proto *proto);
/* Parses an IPv4 dotted quad or IPv6 text form (no brackets, no zone). */
int pev_addr_parse(const char *s, size_t len, struct pev_addr *addr);
/* Writes the canonical text form; returns dst. size >= INET6_ADDRSTRLEN. */
char *pev_addr_format(const struct pev_addr *addr, char *dst, size_t size);
int pev_addr_equal(const struct pev_addr *a, const struct pev_addr *b);
int pev_addr_is_any(const struct pev_addr *addr);
/* Returns 1 if s is a valid SOURCE name ([a-z0-9_-]{1,32}). */
int pev_source_valid(const char *s, size_t len);
/* Fills ev as an add or del; owner is "SOURCE/ID".  target_ip may be NULL.
 * Returns 0, or -1 when owner is invalid or too long. */
int pev_set_binding(struct pev *ev, enum pev_verb verb, const char *owner,
		    enum pev_proto proto, const struct pev_addr *host_ip,
		    uint16_t host_port, uint16_t target_port,
		    const struct pev_addr *target_ip);
/* Writes "sync SOURCE" or "done SOURCE" to fd; returns 0 or -errno. */
int pev_write_marker(int fd, enum pev_verb verb, const char *source);

/* Splits a byte stream into lines for pev_parse.  Lines longer than
 * PEV_LINE_MAX - 1 bytes are reported once as too long and the rest up to
 * the newline is skipped.  Memory is the fixed buffer below. */
struct pev_reader {
	char buf[PEV_LINE_MAX];
	size_t len;
	unsigned long lineno;   /* number of the line being assembled (1-based) */
	int skipping;           /* inside an over-long line */
};

/* Called per complete line, without its newline.  too_long is 1 for an
 * over-long line (line is then its first bytes, for the log). */
typedef void pev_line_cb(void *ctx, const char *line, size_t len,
			 unsigned long lineno, int too_long);

void pev_reader_init(struct pev_reader *r);
/* Feeds bytes; calls cb for every completed line. */
void pev_reader_feed(struct pev_reader *r, const char *data, size_t len,
		     pev_line_cb *cb, void *ctx);
/* End of input: a final line without newline is passed to cb. */
void pev_reader_finish(struct pev_reader *r, pev_line_cb *cb, void *ctx);

/* Convenience for consumers: parses each line, logs rejected ones with
 * their line number and reason, and calls cb for each valid event. */
typedef void pev_event_cb(void *ctx, const struct pev *ev);
struct pev_consumer {
	struct pev_reader reader;
	pev_event_cb *cb;
	void *ctx;
	unsigned long rejected;
};
void pev_consumer_init(struct pev_consumer *c, pev_event_cb *cb, void *ctx);
/* Reads once from fd.  Returns 1 when data was consumed, 0 at end of
 * input (after the last line was handled), or -errno (-EAGAIN included). */
int pev_consumer_read(struct pev_consumer *c, int fd);

#endif
