/* Port-event parser, writer and line reader. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pev.h"

static int parse(const char *line, struct pev *ev, const char **reason)
{
	*reason = NULL;
	return pev_parse(line, strlen(line), ev, reason);
}

/* Asserts that line is rejected with a reason that contains word. */
static void assert_rejected(const char *line, const char *word)
{
	struct pev ev;
	const char *reason;
	int r = parse(line, &ev, &reason);

	if (r != -1)
		fail_msg("accepted '%s' (returned %d)", line, r);
	assert_non_null(reason);
	if (!strstr(reason, word))
		fail_msg("'%s' rejected with '%s', expected a reason with '%s'", line, reason, word);
}

static void assert_accepted(const char *line)
{
	struct pev ev;
	const char *reason;
	int r = parse(line, &ev, &reason);

	if (r != 0)
		fail_msg("rejected '%s': %s", line, reason ? reason : "(ignored)");
}

static void parse_add_ipv4(void **state)
{
	struct pev ev;
	const char *reason;

	assert_int_equal(parse("add docker/3417fc2aebab tcp 0.0.0.0 8080 80", &ev, &reason), 0);
	assert_int_equal(ev.verb, PEV_ADD);
	assert_string_equal(ev.source, "docker");
	assert_string_equal(ev.owner, "docker/3417fc2aebab");
	assert_int_equal(ev.proto, PEV_TCP);
	assert_int_equal(ev.host_ip.family, AF_INET);
	assert_true(pev_addr_is_any(&ev.host_ip));
	assert_int_equal(ev.host_port, 8080);
	assert_int_equal(ev.target_port, 80);
	assert_int_equal(ev.target_ip.family, 0);
	assert_string_equal(ev.attrs, "");
}

static void parse_del_ipv6_attrs(void **state)
{
	struct pev ev;
	const char *reason;
	char text[INET6_ADDRSTRLEN];

	assert_int_equal(parse("del containerd/default/web2 udp fd00::1 53 - target_ip=10.4.0.7 "
			       "color=blue x=", &ev, &reason), 0);
	assert_int_equal(ev.verb, PEV_DEL);
	assert_string_equal(ev.source, "containerd");
	assert_string_equal(ev.owner, "containerd/default/web2");
	assert_int_equal(ev.proto, PEV_UDP);
	assert_int_equal(ev.host_ip.family, AF_INET6);
	assert_string_equal(pev_addr_format(&ev.host_ip, text, sizeof text), "fd00::1");
	assert_int_equal(ev.host_port, 53);
	assert_int_equal(ev.target_port, 0);
	assert_int_equal(ev.target_ip.family, AF_INET);
	assert_string_equal(pev_addr_format(&ev.target_ip, text, sizeof text), "10.4.0.7");
	assert_string_equal(ev.attrs, "color=blue x=");
}

static void parse_sync_done(void **state)
{
	struct pev ev;
	const char *reason;

	assert_int_equal(parse("sync iptables", &ev, &reason), 0);
	assert_int_equal(ev.verb, PEV_SYNC);
	assert_string_equal(ev.source, "iptables");
	assert_int_equal(parse("done kube-2_x", &ev, &reason), 0);
	assert_int_equal(ev.verb, PEV_DONE);
	assert_string_equal(ev.source, "kube-2_x");
	assert_accepted("sync abcdefghijklmnopqrstuvwxyz012345");
}

static void parse_valid_edges(void **state)
{
	assert_accepted("add a/b sctp 255.255.255.255 65535 1");
	assert_accepted("add a/b tcp :: 1 65535");
	assert_accepted("add a/b tcp ::ffff:127.0.0.1 22 22");
	assert_accepted("add a/b tcp 2001:db8:0:0:0:0:0:1 443 8443");
	assert_accepted("add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 127.0.0.1 80 80");
	/* An ID may contain '/' and any printable ASCII but a space. */
	assert_accepted("add kubernetes/default/my-svc/x!~ tcp 0.0.0.0 30080 80");
}

static void parse_ignored_lines(void **state)
{
	struct pev ev;
	const char *reason;

	assert_int_equal(parse("", &ev, &reason), 1);
	assert_int_equal(parse("# add a/b tcp 0.0.0.0 80 80", &ev, &reason), 1);
	assert_int_equal(parse("#", &ev, &reason), 1);
}

static void reject_verbs(void **state)
{
	assert_rejected("ADD a/b tcp 0.0.0.0 80 80", "verb");
	assert_rejected("remove a/b tcp 0.0.0.0 80 80", "verb");
	assert_rejected("addd a/b tcp 0.0.0.0 80 80", "verb");
	assert_rejected("syncs docker", "verb");
	assert_rejected(" add a/b tcp 0.0.0.0 80 80", "empty field");
}

static void reject_field_counts(void **state)
{
	assert_rejected("add", "missing");
	assert_rejected("add a/b tcp 0.0.0.0 80", "missing");
	assert_rejected("add a/b tcp 0.0.0.0", "missing");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 extra", "KEY=VALUE");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 =value", "KEY=VALUE");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 ", "empty field");
	assert_rejected("add a/b tcp  0.0.0.0 80 80", "empty field");
	assert_rejected("sync", "missing source");
	assert_rejected("done", "missing source");
	assert_rejected("sync docker extra", "extra field");
	assert_rejected("done docker docker", "extra field");
}

static void reject_ports(void **state)
{
	assert_rejected("add a/b tcp 0.0.0.0 0 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 65536 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 100000 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 080 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 00 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 +80 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 -80 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 - 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 8o 80", "host port");
	assert_rejected("add a/b tcp 0.0.0.0 80 0", "target port");
	assert_rejected("add a/b tcp 0.0.0.0 80 65536", "target port");
	assert_rejected("add a/b tcp 0.0.0.0 80 08", "target port");
	assert_rejected("add a/b tcp 0.0.0.0 80 +8", "target port");
	assert_rejected("add a/b tcp 0.0.0.0 80 -8", "target port");
	assert_rejected("add a/b tcp 0.0.0.0 80 --", "target port");
	assert_accepted("add a/b tcp 0.0.0.0 65535 65535");
}

static void reject_ipv4(void **state)
{
	assert_rejected("add a/b tcp 1.2.3 80 80", "host address");
	assert_rejected("add a/b tcp 1.2.3.4.5 80 80", "host address");
	assert_rejected("add a/b tcp 1.2.3.256 80 80", "host address");
	assert_rejected("add a/b tcp 300.1.1.1 80 80", "host address");
	assert_rejected("add a/b tcp 01.2.3.4 80 80", "host address");
	assert_rejected("add a/b tcp 1..3.4 80 80", "host address");
	assert_rejected("add a/b tcp 1.2.3.4. 80 80", "host address");
	assert_rejected("add a/b tcp .1.2.3 80 80", "host address");
	assert_rejected("add a/b tcp 0x7f.0.0.1 80 80", "host address");
	assert_rejected("add a/b tcp 1.2.3.-4 80 80", "host address");
	assert_rejected("add a/b tcp localhost 80 80", "host address");
	assert_rejected("add a/b tcp 80 80 80", "host address");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 target_ip=1.2.3", "target_ip");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 target_ip=", "target_ip");
}

static void reject_ipv6(void **state)
{
	assert_rejected("add a/b tcp ::: 80 80", "host address");
	assert_rejected("add a/b tcp 1::2::3 80 80", "host address");
	assert_rejected("add a/b tcp 1:2:3:4:5:6:7:8:9 80 80", "host address");
	assert_rejected("add a/b tcp 12345::1 80 80", "host address");
	assert_rejected("add a/b tcp fe80::g 80 80", "host address");
	assert_rejected("add a/b tcp ::1.2.3.256 80 80", "host address");
	assert_rejected("add a/b tcp 0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:1 80 80", "host address");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 target_ip=fe80::1%eth0", "target_ip");
}

static void reject_brackets_zones(void **state)
{
	assert_rejected("add a/b tcp [::1] 80 80", "host address");
	assert_rejected("add a/b tcp [::1 80 80", "host address");
	assert_rejected("add a/b tcp ::1] 80 80", "host address");
	assert_rejected("add a/b tcp [::]:80 80 80", "host address");
	assert_rejected("add a/b tcp fe80::1%eth0 80 80", "host address");
	assert_rejected("add a/b tcp fe80::1%1 80 80", "host address");
	assert_rejected("add a/b tcp 127.0.0.1%lo 80 80", "host address");
	assert_rejected("add a/b tcp [127.0.0.1] 80 80", "host address");
}

static void reject_owners(void **state)
{
	char line[600];

	assert_rejected("add docker tcp 0.0.0.0 80 80", "'/'");
	assert_rejected("add docker-3417 tcp 0.0.0.0 80 80", "'/'");
	assert_rejected("add /id tcp 0.0.0.0 80 80", "source");
	assert_rejected("add Docker/id tcp 0.0.0.0 80 80", "source");
	assert_rejected("add do.cker/id tcp 0.0.0.0 80 80", "source");
	assert_rejected("add abcdefghijklmnopqrstuvwxyz0123456/id tcp 0.0.0.0 80 80", "source");
	assert_rejected("add docker/ tcp 0.0.0.0 80 80", "id");
	snprintf(line, sizeof line, "add docker/%0256d tcp 0.0.0.0 80 80", 1);
	assert_rejected(line, "id");
	snprintf(line, sizeof line, "add docker/%0255d tcp 0.0.0.0 80 80", 1);
	assert_accepted(line);
	assert_rejected("add a/b TCP 0.0.0.0 80 80", "protocol");
	assert_rejected("add a/b icmp 0.0.0.0 80 80", "protocol");
}

static void reject_sources(void **state)
{
	assert_rejected("sync Docker", "source");
	assert_rejected("sync dock/er", "source");
	assert_rejected("done doc.ker", "source");
	assert_rejected("sync abcdefghijklmnopqrstuvwxyz0123456", "source");
	assert_rejected("done docker!", "source");
}

static void reject_bytes(void **state)
{
	struct pev ev;
	const char *reason;
	static const char nul[] = "add a/b tcp 0.0.0.0 80\0 80";

	assert_int_equal(pev_parse(nul, sizeof nul - 1, &ev, &reason), -1);
	assert_non_null(strstr(reason, "NUL"));
	assert_rejected("add a/b tcp 0.0.0.0 80 80\r", "carriage return");
	assert_rejected("sync docker\r", "carriage return");
	assert_rejected("\r", "carriage return");
	assert_rejected("add a/b tcp 0.0.0.0 80 80\tx=y", "control");
	assert_rejected("add a/b\xc3\xa9 tcp 0.0.0.0 80 80", "non-ASCII");
	assert_rejected("add a/b tcp 0.0.0.0 80 80 k=\x7f", "non-ASCII");
}

static void reject_long_line(void **state)
{
	char line[PEV_LINE_MAX + 8];
	struct pev ev;
	const char *reason;
	int n = snprintf(line, sizeof line, "add a/b tcp 0.0.0.0 80 80 k=");

	memset(line + n, 'v', sizeof line - (size_t)n);
	/* 1023 bytes is the longest line that fits with its newline. */
	assert_int_equal(pev_parse(line, PEV_LINE_MAX - 1, &ev, &reason), 0);
	assert_int_equal(strlen(ev.attrs), PEV_LINE_MAX - 1 - 26);
	assert_int_equal(pev_parse(line, PEV_LINE_MAX, &ev, &reason), -1);
	assert_non_null(strstr(reason, "longer"));
}

static void many_attributes(void **state)
{
	char line[PEV_LINE_MAX];
	struct pev ev;
	const char *reason;
	int n = snprintf(line, sizeof line, "add a/b tcp 0.0.0.0 80 80");

	while (n + 4 < PEV_LINE_MAX - 1)
		n += snprintf(line + n, sizeof line - (size_t)n, " k=v");
	assert_int_equal(pev_parse(line, (size_t)n, &ev, &reason), 0);
	assert_int_equal(strlen(ev.attrs), (size_t)n - 26);
}

/* --- writer --- */

static void format_round_trip(void **state)
{
	static const char *const lines[] = {
		"add docker/3417fc2aebab tcp 0.0.0.0 8080 80\n",
		"del containerd/default/web2 udp fd00::1 53 - target_ip=10.4.0.7 color=blue\n",
		"add kubernetes/default/my-svc sctp :: 30080 80 target_ip=fd00::7\n",
		"sync iptables\n",
		"done iptables\n",
	};

	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		char out[PEV_LINE_MAX];
		struct pev ev;
		const char *reason;

		assert_int_equal(pev_parse(lines[i], strlen(lines[i]) - 1, &ev, &reason), 0);
		assert_int_equal(pev_format(&ev, out, sizeof out), (int)strlen(lines[i]));
		assert_string_equal(out, lines[i]);
	}
}

static void format_rejects_bad_fields(void **state)
{
	struct pev ev;
	char out[PEV_LINE_MAX];
	struct pev_addr addr;

	memset(&ev, 0, sizeof ev);
	ev.verb = PEV_SYNC;
	strcpy(ev.source, "Bad");
	assert_int_equal(pev_format(&ev, out, sizeof out), -1);
	assert_int_equal(pev_addr_parse("0.0.0.0", 7, &addr), 0);
	assert_int_equal(pev_set_binding(&ev, PEV_ADD, "noslash", PEV_TCP, &addr, 80, 80, NULL), -1);
	assert_int_equal(pev_set_binding(&ev, PEV_ADD, "a/b c", PEV_TCP, &addr, 80, 80, NULL), -1);
	assert_int_equal(pev_set_binding(&ev, PEV_ADD, "a/b", PEV_TCP, &addr, 0, 80, NULL), -1);
	assert_int_equal(pev_set_binding(&ev, PEV_ADD, "a/b", PEV_TCP, &addr, 80, 0, NULL), 0);
	assert_int_equal(pev_format(&ev, out, 10), -1);
	assert_int_equal(pev_format(&ev, out, sizeof out), (int)strlen("add a/b tcp 0.0.0.0 80 -\n"));
	assert_string_equal(out, "add a/b tcp 0.0.0.0 80 -\n");
}

static void format_max_length(void **state)
{
	char line[PEV_LINE_MAX + 1], out[PEV_LINE_MAX + 1];
	struct pev ev;
	const char *reason;
	int n = snprintf(line, sizeof line, "add a/b tcp 0.0.0.0 80 80 k=");

	/* 1023 bytes of line and the newline: exactly PEV_LINE_MAX. */
	memset(line + n, 'v', PEV_LINE_MAX - 1 - (size_t)n);
	line[PEV_LINE_MAX - 1] = 0;
	assert_int_equal(pev_parse(line, PEV_LINE_MAX - 1, &ev, &reason), 0);
	assert_int_equal(pev_format(&ev, out, sizeof out), PEV_LINE_MAX);
	assert_memory_equal(out, line, PEV_LINE_MAX - 1);
	assert_int_equal(out[PEV_LINE_MAX - 1], '\n');
	/* One byte less of room and it no longer fits. */
	assert_int_equal(pev_format(&ev, out, PEV_LINE_MAX), -1);
}

static void write_one_line(void **state)
{
	int fds[2];
	char buf[256];
	struct pev ev;
	struct pev_addr addr;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pev_addr_parse("::1", 3, &addr), 0);
	assert_int_equal(pev_set_binding(&ev, PEV_DEL, "docker/x", PEV_UDP, &addr, 5353, 53, NULL), 0);
	assert_int_equal(pev_write(fds[1], &ev), 0);
	assert_int_equal(pev_write_marker(fds[1], PEV_SYNC, "docker"), 0);
	assert_int_equal(pev_write_marker(fds[1], PEV_DONE, "abcdefghijklmnopqrstuvwxyz0123456"), -EINVAL);
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, "del docker/x udp ::1 5353 53\nsync docker\n");
	close(fds[0]);
}

/* On a SOCK_SEQPACKET socket every write(2) is one record and every
 * read(2) returns one record, so each line, even the longest, must arrive
 * whole in one read. */
static void write_is_one_syscall(void **state)
{
	int fds[2];
	char buf[PEV_LINE_MAX + 16], id[PEV_ID_MAX + 1], owner[PEV_OWNER_MAX];
	struct pev ev;
	struct pev_addr addr;
	int attrs;
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	memset(id, 'x', PEV_ID_MAX);
	id[PEV_ID_MAX] = 0;
	snprintf(owner, sizeof owner, "abcdefghijklmnopqrstuvwxyz012345/%s", id);
	assert_int_equal(pev_addr_parse("1:2:3:4:5:6:7:8", 15, &addr), 0);
	assert_int_equal(pev_set_binding(&ev, PEV_ADD, owner, PEV_SCTP, &addr, 65535, 65535, &addr), 0);
	/* Fill the attributes up to the longest line the format allows. */
	n = pev_format(&ev, buf, sizeof buf);
	assert_true(n > 0);
	attrs = PEV_LINE_MAX - (int)n - 1;
	assert_true(attrs > 2);
	memset(ev.attrs, 'a', (size_t)attrs);
	ev.attrs[1] = '=';
	ev.attrs[attrs] = 0;
	assert_int_equal(pev_write(fds[1], &ev), 0);
	assert_int_equal(pev_write_marker(fds[1], PEV_DONE, "abcdefghijklmnopqrstuvwxyz012345"), 0);

	n = read(fds[0], buf, sizeof buf);
	assert_int_equal(n, PEV_LINE_MAX);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', (size_t)n - 1));
	n = read(fds[0], buf, sizeof buf);
	assert_int_equal(n, 38);
	assert_memory_equal(buf, "done abcdefghijklmnopqrstuvwxyz012345\n", 38);
	close(fds[0]);
	close(fds[1]);
}

/* --- reader --- */

struct collected {
	char lines[16][PEV_LINE_MAX + 1];
	size_t lens[16];
	unsigned long linenos[16];
	int too_long[16];
	int count;
};

static void collect(void *ctx, const char *line, size_t len, unsigned long lineno, int too_long)
{
	struct collected *c = ctx;

	assert_true(c->count < 16);
	assert_true(len <= PEV_LINE_MAX);
	memcpy(c->lines[c->count], line, len);
	c->lines[c->count][len] = 0;
	c->lens[c->count] = len;
	c->linenos[c->count] = lineno;
	c->too_long[c->count] = too_long;
	c->count++;
}

static void feed_in_pieces(const char *data, size_t len, size_t piece, struct collected *c)
{
	struct pev_reader r;

	memset(c, 0, sizeof *c);
	pev_reader_init(&r);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		pev_reader_feed(&r, data + off, n, collect, c);
	}
	pev_reader_finish(&r, collect, c);
}

static void reader_every_split(void **state)
{
	static const char input[] = "sync docker\n\nadd docker/a tcp 0.0.0.0 80 80\n#x\ndone docker";
	size_t len = sizeof input - 1;

	/* Every single split point, then every piece size. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct collected c;
		struct pev_reader r;

		memset(&c, 0, sizeof c);
		pev_reader_init(&r);
		pev_reader_feed(&r, input, cut, collect, &c);
		pev_reader_feed(&r, input + cut, len - cut, collect, &c);
		pev_reader_finish(&r, collect, &c);
		assert_int_equal(c.count, 5);
		assert_string_equal(c.lines[0], "sync docker");
		assert_string_equal(c.lines[1], "");
		assert_string_equal(c.lines[2], "add docker/a tcp 0.0.0.0 80 80");
		assert_string_equal(c.lines[3], "#x");
		assert_string_equal(c.lines[4], "done docker");
		assert_int_equal(c.linenos[4], 5);
	}
	for (size_t piece = 1; piece <= len; piece++) {
		struct collected c;

		feed_in_pieces(input, len, piece, &c);
		assert_int_equal(c.count, 5);
		assert_string_equal(c.lines[2], "add docker/a tcp 0.0.0.0 80 80");
		assert_int_equal(c.linenos[2], 3);
	}
}

static void reader_long_line_skipped(void **state)
{
	size_t len = 3000 + 40;
	char *input = malloc(len);
	size_t n = 0;

	assert_non_null(input);
	n += (size_t)sprintf(input + n, "sync a\n");
	memset(input + n, 'x', 2000);
	n += 2000;
	n += (size_t)sprintf(input + n, "\ndone a\n");
	for (size_t piece = 1; piece <= n; piece = piece < 16 ? piece + 1 : piece * 3) {
		struct collected c;

		feed_in_pieces(input, n, piece, &c);
		assert_int_equal(c.count, 3);
		assert_string_equal(c.lines[0], "sync a");
		assert_int_equal(c.too_long[1], 1);
		assert_int_equal(c.linenos[1], 2);
		assert_int_equal(c.lens[1], PEV_LINE_MAX);
		assert_int_equal(c.lines[1][0], 'x');
		assert_string_equal(c.lines[2], "done a");
		assert_int_equal(c.too_long[2], 0);
		assert_int_equal(c.linenos[2], 3);
	}
	free(input);
}

static void reader_line_limit_edges(void **state)
{
	char input[2 * PEV_LINE_MAX + 4];
	struct collected c;

	/* 1023 bytes and a newline: accepted.  1024 and a newline: too long. */
	memset(input, 'a', PEV_LINE_MAX - 1);
	input[PEV_LINE_MAX - 1] = '\n';
	memset(input + PEV_LINE_MAX, 'b', PEV_LINE_MAX);
	input[2 * PEV_LINE_MAX] = '\n';
	feed_in_pieces(input, 2 * PEV_LINE_MAX + 1, 7, &c);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.too_long[0], 0);
	assert_int_equal(c.lens[0], PEV_LINE_MAX - 1);
	assert_int_equal(c.too_long[1], 1);
	assert_int_equal(c.linenos[1], 2);

	/* An over-long last line without a newline is reported once. */
	feed_in_pieces(input + PEV_LINE_MAX, PEV_LINE_MAX, 100, &c);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.too_long[0], 1);
}

static void reader_nul_and_cr(void **state)
{
	static const char input[] = "sync a\r\nadd a/b tcp 0.0.0.0 8\0 80\ndone a\n";
	struct collected c;
	struct pev ev;
	const char *reason;

	feed_in_pieces(input, sizeof input - 1, 5, &c);
	assert_int_equal(c.count, 3);
	assert_int_equal(c.lens[0], 7);
	assert_int_equal(pev_parse(c.lines[0], c.lens[0], &ev, &reason), -1);
	assert_non_null(strstr(reason, "carriage return"));
	assert_int_equal(pev_parse(c.lines[1], c.lens[1], &ev, &reason), -1);
	assert_non_null(strstr(reason, "NUL"));
	assert_int_equal(pev_parse(c.lines[2], c.lens[2], &ev, &reason), 0);
}

/* --- consumer --- */

struct events {
	struct pev ev[8];
	int count;
};

static void take_event(void *ctx, const struct pev *ev)
{
	struct events *e = ctx;

	assert_true(e->count < 8);
	e->ev[e->count++] = *ev;
}

static void consumer_skips_bad_lines(void **state)
{
	static const char input[] = "sync a\nbogus line\nadd a/b tcp 0.0.0.0 0 80\n"
				    "add a/b tcp 0.0.0.0 80 80\ndone a";
	struct pev_consumer c;
	struct events e = { .count = 0 };
	int fds[2];
	int r;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], input, sizeof input - 1), (ssize_t)(sizeof input - 1));
	close(fds[1]);
	pev_consumer_init(&c, take_event, &e);
	while ((r = pev_consumer_read(&c, fds[0])) > 0)
		;
	assert_int_equal(r, 0);
	close(fds[0]);
	assert_int_equal(c.rejected, 2);
	assert_int_equal(e.count, 3);
	assert_int_equal(e.ev[0].verb, PEV_SYNC);
	assert_int_equal(e.ev[1].verb, PEV_ADD);
	assert_int_equal(e.ev[1].host_port, 80);
	assert_int_equal(e.ev[2].verb, PEV_DONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_add_ipv4),
		cmocka_unit_test(parse_del_ipv6_attrs),
		cmocka_unit_test(parse_sync_done),
		cmocka_unit_test(parse_valid_edges),
		cmocka_unit_test(parse_ignored_lines),
		cmocka_unit_test(reject_verbs),
		cmocka_unit_test(reject_field_counts),
		cmocka_unit_test(reject_ports),
		cmocka_unit_test(reject_ipv4),
		cmocka_unit_test(reject_ipv6),
		cmocka_unit_test(reject_brackets_zones),
		cmocka_unit_test(reject_owners),
		cmocka_unit_test(reject_sources),
		cmocka_unit_test(reject_bytes),
		cmocka_unit_test(reject_long_line),
		cmocka_unit_test(many_attributes),
		cmocka_unit_test(format_round_trip),
		cmocka_unit_test(format_rejects_bad_fields),
		cmocka_unit_test(format_max_length),
		cmocka_unit_test(write_one_line),
		cmocka_unit_test(write_is_one_syscall),
		cmocka_unit_test(reader_every_split),
		cmocka_unit_test(reader_long_line_skipped),
		cmocka_unit_test(reader_line_limit_edges),
		cmocka_unit_test(reader_nul_and_cr),
		cmocka_unit_test(consumer_skips_bad_lines),
	};

	/* The consumer logs rejected lines; keep them out of the test output. */
	log_init("test_pev");
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
