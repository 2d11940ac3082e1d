/* Parser for the text that iptables-save, ip6tables-save and
 * `iptables -S` print, one line at a time, into struct nat_rule.
 * Sans-I/O: the caller splits the input into lines; the parser keeps only
 * which table the current section belongs to.
 *
 * Understood rule options (iptables-extensions(8), iptables 1.8):
 *   -A CHAIN, [!] -d ADDR[/PREFIX], [!] -p PROTO, -m tcp|udp|sctp
 *   [!] --dport PORT[:PORT], -m comment --comment TEXT,
 *   -j DNAT --to-destination [ADDR[-ADDR]][:PORT[-PORT][/BASE]]
 *   (IPv6 addresses in brackets when a port follows), and the counter
 *   prefix "[PACKETS:BYTES]" of iptables-save -c.
 * Every other option is a match a binding cannot express (other_match);
 * "-m multiport" and negated protocol or port matches make a DNAT rule
 * unsupported. */
#ifndef RDAGENT_IPTSAVE_H
#define RDAGENT_IPTSAVE_H

#include <stddef.h>

#include "natrule.h"

/* Maximum line length the parser accepts, including the NUL; longer lines
 * are rejected.  The rules portmap writes are under 300 bytes. */
#define IPTSAVE_LINE_MAX 4096
/* Maximum number of words in one line, counting "-A" and the chain name. */
#define IPTSAVE_WORDS_MAX 256

/* Words of the line being parsed; caller-owned scratch memory. */
struct iptsave_words {
	char buf[IPTSAVE_LINE_MAX];
	char *w[IPTSAVE_WORDS_MAX];
	size_t n;
};

struct iptsave_parser {
	int family;        /* AF_INET or AF_INET6: the default for rules without addresses */
	int in_nat;        /* inside "*nat", or no table header seen yet */
	struct iptsave_words words;
};

void iptsave_init(struct iptsave_parser *p, int family);

/* Parses one line without its newline.  Returns 1 with rule filled for a
 * rule ("-A ...") of the nat table, 0 for a line to skip (comment, table
 * header, chain declaration, COMMIT, a rule of another table), or -1 with
 * *reason set to a static string for a malformed line.  The family of a
 * rule follows its addresses: an IPv6 address in -d or --to-destination
 * makes it AF_INET6, otherwise it is the parser's default. */
int iptsave_parse_line(struct iptsave_parser *p, const char *line, size_t len,
		       struct nat_rule *rule, const char **reason);

#endif
