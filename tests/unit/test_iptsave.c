/* Unit tests for lib/iptsave on recorded iptables-save output
 * (the .txt files in tests/fixtures/ipt-scan, recorded by capture.sh there) and for
 * lib/natbind: which rules count, snapshots and differences. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iptsave.h"
#include "natbind.h"

#define FIXTURES "tests/fixtures/ipt-scan/"

static const char *const default_prefixes[] = { "CNI-DN-" };
static const struct natbind_config default_config = { default_prefixes, 1, 1024 };

struct output {
	char text[16384];
};

static int format_event(void *ctx, enum pev_verb verb, const struct natbind_set *s,
			const struct natbind *b)
{
	struct output *out = ctx;
	char line[PEV_LINE_MAX];
	struct pev ev;
	int n;

	assert_int_equal(natbind_event(s, b, verb, &ev), 0);
	n = pev_format(&ev, line, sizeof line);
	assert_true(n > 0);
	assert_true(strlen(out->text) + (size_t)n < sizeof out->text);
	strcat(out->text, line);
	return 0;
}

/* Parses text (several lines) into set; returns the number of rejected
 * lines. */
static int parse_text(struct natbind_set *set, const struct natbind_config *config,
		      int family, const char *text)
{
	static struct iptsave_parser parser;
	int rejected = 0;

	iptsave_init(&parser, family);
	while (*text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		struct nat_rule rule;
		struct natbind_outcome outcome;
		const char *reason = NULL;
		int r = iptsave_parse_line(&parser, text, len, &rule, &reason);

		if (r < 0) {
			assert_non_null(reason);
			rejected++;
		} else if (r == 1) {
			assert_int_equal(natbind_add_rule(set, config, &rule, &outcome), 0);
		}
		text += len + (end ? 1 : 0);
	}
	return rejected;
}

/* Parses a fixture and returns its snapshot as port-event lines. */
static void snapshot_of(const char *path, int family, struct output *out)
{
	struct natbind_set set, empty;
	char *text = unit_read_file(path, NULL);

	natbind_set_init(&set);
	natbind_set_init(&empty);
	assert_int_equal(parse_text(&set, &default_config, family, text), 0);
	natbind_set_finish(&set);
	out->text[0] = 0;
	assert_true(natbind_diff(&empty, &set, format_event, out) >= 0);
	natbind_set_free(&set);
	free(text);
}

static void test_legacy_save_ipv4(void **state)
{
	struct output out;

	(void)state;
	snapshot_of(FIXTURES "legacy-save.txt", AF_INET, &out);
	assert_string_equal(out.text,
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 tcp 0.0.0.0 7002 8000 target_ip=10.4.0.8\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 5353 53 target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6000 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6001 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6002 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6003 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 0.0.0.0 8443 443 target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 127.0.0.1 8081 80 target_ip=10.4.0.7\n");
}

static void test_legacy_save_counters(void **state)
{
	struct output plain, counters;

	(void)state;
	snapshot_of(FIXTURES "legacy-save.txt", AF_INET, &plain);
	snapshot_of(FIXTURES "legacy-save-c.txt", AF_INET, &counters);
	assert_string_equal(plain.text, counters.text);
}

static void test_legacy_save_ipv6(void **state)
{
	struct output out;

	(void)state;
	snapshot_of(FIXTURES "legacy6-save.txt", AF_INET6, &out);
	assert_string_equal(out.text,
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 5353 53 target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6000 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6001 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6002 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6003 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp :: 8443 443 target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp ::1 8081 80 target_ip=fd00:4::7\n");
}

/* iptables-nft-save output of both families in one file: the family of
 * each rule follows its addresses. */
static void test_nft_save_mixed_families(void **state)
{
	struct output out;

	(void)state;
	snapshot_of(FIXTURES "nft-save.txt", AF_INET, &out);
	assert_non_null(strstr(out.text, "add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 127.0.0.1 8081 80 target_ip=10.4.0.7\n"));
	assert_non_null(strstr(out.text, "add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp ::1 8081 80 target_ip=fd00:4::7\n"));
	assert_non_null(strstr(out.text, "add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6003 - target_ip=fd00:4::7\n"));
	assert_non_null(strstr(out.text, "add iptables/CNI-DN-forms tcp 0.0.0.0 7003 - target_ip=10.4.0.8\n"));
	/* "! --dport 7004" and REDIRECT yield nothing. */
	assert_null(strstr(out.text, " 7004 "));
	assert_null(strstr(out.text, " 7005 "));
}

static int parse_one(const char *line, struct nat_rule *rule, const char **reason)
{
	static struct iptsave_parser parser;

	iptsave_init(&parser, AF_INET);
	return iptsave_parse_line(&parser, line, strlen(line), rule, reason);
}

static void test_to_destination_forms(void **state)
{
	struct nat_rule r;
	const char *reason;

	(void)state;
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1-10.0.0.9:8000-8010/80", &r, &reason), 1);
	assert_true(r.dnat);
	assert_int_equal(r.to_port_min, 8000);
	assert_int_equal(r.to_port_max, 8010);
	assert_true(r.to_port_offset);
	assert_int_equal(r.to_port_base, 80);
	assert_int_equal(r.to_addr.bytes[3], 1);

	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination :8080", &r, &reason), 1);
	assert_int_equal(r.to_addr.family, 0);
	assert_int_equal(r.to_port_min, 8080);

	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination [fd00::1]-[fd00::9]:81", &r, &reason), 1);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.to_addr.family, AF_INET6);
	assert_int_equal(r.to_port_min, 81);

	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination fd00::1", &r, &reason), 1);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.to_port_min, 0);

	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:0", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:90-80", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT --to-destination [fd00::1:81", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 80 -j DNAT", &r, &reason), -1);
	assert_string_equal(reason, "DNAT rule without --to-destination");
}

static void test_matches_and_negation(void **state)
{
	struct nat_rule r;
	const char *reason;

	(void)state;
	assert_int_equal(parse_one("-A CNI-DN-x ! -d 10.0.0.1/32 -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2", &r, &reason), 1);
	assert_false(r.has_daddr);
	assert_true(r.other_match);

	assert_int_equal(parse_one("-A CNI-DN-x -d 10.1.0.0/255.255.0.0 -p udp --dport 1000:1010 -j DNAT --to-destination 10.0.0.2", &r, &reason), 1);
	assert_true(r.has_daddr);
	assert_int_equal(r.daddr_prefix, 16);
	assert_int_equal(r.dport_min, 1000);
	assert_int_equal(r.dport_max, 1010);

	assert_int_equal(parse_one("-A CNI-DN-x -p tcp -m tcp ! --dport 80 -j DNAT --to-destination 10.0.0.2", &r, &reason), 1);
	assert_non_null(r.unsupported);
	assert_int_equal(parse_one("-A CNI-DN-x ! -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2", &r, &reason), 1);
	assert_non_null(r.unsupported);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp -m multiport --dports 80,443 -j DNAT --to-destination 10.0.0.2", &r, &reason), 1);
	assert_non_null(r.unsupported);

	/* Unknown matches take their values along and mark the rule. */
	assert_int_equal(parse_one("-A CNI-DN-x -s 10.0.0.0/8 -i eth0 -m addrtype --dst-type LOCAL -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2 --random", &r, &reason), 1);
	assert_true(r.other_match);
	assert_true(r.dnat);
	assert_int_equal(r.dport_min, 80);

	assert_int_equal(parse_one("-A CNI-DN-x -p icmp -j DNAT --to-destination 10.0.0.2", &r, &reason), 1);
	assert_non_null(r.unsupported);
	assert_int_equal(parse_one("-A CNI-DN-x -d 10.0.0.300 -j DNAT --to-destination 10.0.0.2", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x -d ::1 -p tcp --dport 1 -j DNAT --to-destination 10.0.0.2", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 0 -j DNAT --to-destination 10.0.0.2", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 65536 -j DNAT --to-destination 10.0.0.2", &r, &reason), -1);
	assert_int_equal(parse_one("-A CNI-DN-x stray -j DNAT", &r, &reason), -1);
}

static void test_lines_and_sections(void **state)
{
	struct iptsave_parser parser;
	struct nat_rule r;
	const char *reason;
	char long_line[IPTSAVE_LINE_MAX + 10];

	(void)state;
	iptsave_init(&parser, AF_INET);
	/* `iptables -S` output has no table header and counts as nat. */
	assert_int_equal(iptsave_parse_line(&parser, "-P PREROUTING ACCEPT", 20, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "-N CNI-DN-x", 11, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "-A CNI-DN-x -p tcp --dport 1 -j DNAT --to-destination 1.2.3.4", 61, &r, &reason), 1);
	/* Rules of other tables are skipped. */
	assert_int_equal(iptsave_parse_line(&parser, "*filter", 7, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "-A CNI-DN-x -p tcp --dport 1 -j DNAT --to-destination 1.2.3.4", 61, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "COMMIT", 6, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "*nat", 4, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "# comment", 9, &r, &reason), 0);
	assert_int_equal(iptsave_parse_line(&parser, "", 0, &r, &reason), 0);
	const char *quoted = "-A CNI-DN-x -m comment --comment \"a \\\"b\\\" c\" -p tcp --dport 1 -j DNAT --to-destination 1.2.3.4";

	assert_int_equal(iptsave_parse_line(&parser, quoted, strlen(quoted), &r, &reason), 1);
	assert_string_equal(r.comment, "a \"b\" c");
	assert_int_equal(iptsave_parse_line(&parser, "-A CNI-DN-x -m comment --comment \"open", 38, &r, &reason), -1);
	assert_string_equal(reason, "unterminated quote");
	assert_int_equal(iptsave_parse_line(&parser, "garbage", 7, &r, &reason), -1);
	assert_int_equal(iptsave_parse_line(&parser, "-A", 2, &r, &reason), -1);
	assert_int_equal(iptsave_parse_line(&parser, "x\0y", 3, &r, &reason), -1);
	memset(long_line, 'a', sizeof long_line);
	assert_int_equal(iptsave_parse_line(&parser, long_line, sizeof long_line, &r, &reason), -1);
	assert_string_equal(reason, "line too long");
}

static void test_counting_rules(void **state)
{
	static const char *const prefixes[] = { "CNI-DN-", "KUBE-HP-" };
	const struct natbind_config config = { prefixes, 2, 4 };
	struct natbind_set set, empty;
	struct output out = { "" };

	(void)state;
	natbind_set_init(&set);
	natbind_set_init(&empty);
	assert_int_equal(parse_text(&set, &config, AF_INET,
		"-A KUBE-HP-a -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080\n"
		"-A OTHER -p tcp --dport 81 -j DNAT --to-destination 10.0.0.1:8080\n"
		"-A CNI-DN-b -p tcp --dport 82 -j MASQUERADE\n"
		"-A CNI-DN-b -j DNAT --to-destination 10.0.0.1\n"
		"-A CNI-DN-b -p udp --dport 100:199 -j DNAT --to-destination 10.0.0.2\n"
		"-A CNI-DN-b -p tcp --dport 90 -j DNAT --to-destination 10.0.0.3:9\n"
		"-A CNI-DN-b -p tcp --dport 90 -j DNAT --to-destination 10.0.0.4:9\n"
		"-A CNI-DN-c -p tcp --dport 90 -j DNAT --to-destination 10.0.0.3:9\n"), 0);
	natbind_set_finish(&set);
	assert_true(natbind_diff(&empty, &set, format_event, &out) >= 0);
	/* --max-range 4 caps the udp range; the same port twice in one chain
	 * is one binding (first rule wins); two chains are two owners. */
	assert_string_equal(out.text,
		"add iptables/CNI-DN-b tcp 0.0.0.0 90 9 target_ip=10.0.0.3\n"
		"add iptables/CNI-DN-b udp 0.0.0.0 100 - target_ip=10.0.0.2\n"
		"add iptables/CNI-DN-b udp 0.0.0.0 101 - target_ip=10.0.0.2\n"
		"add iptables/CNI-DN-b udp 0.0.0.0 102 - target_ip=10.0.0.2\n"
		"add iptables/CNI-DN-b udp 0.0.0.0 103 - target_ip=10.0.0.2\n"
		"add iptables/CNI-DN-c tcp 0.0.0.0 90 9 target_ip=10.0.0.3\n"
		"add iptables/KUBE-HP-a tcp 0.0.0.0 80 8080 target_ip=10.0.0.1\n");
	natbind_set_free(&set);
}

static void test_outcome_reports(void **state)
{
	struct natbind_set set;
	struct natbind_outcome o;
	struct nat_rule r;
	const char *reason;
	static const char *const prefixes[] = { "CNI-DN-" };
	const struct natbind_config config = { prefixes, 1, 2 };

	(void)state;
	natbind_set_init(&set);
	assert_int_equal(parse_one("-A CNI-DN-x -p tcp --dport 10:20 -j DNAT --to-destination 1.2.3.4", &r, &reason), 1);
	assert_int_equal(natbind_add_rule(&set, &config, &r, &o), 0);
	assert_true(o.counted);
	assert_true(o.capped);
	assert_int_equal(o.added, 2);
	assert_int_equal(parse_one("-A CNI-DN-x -j DNAT --to-destination 1.2.3.4", &r, &reason), 1);
	assert_int_equal(natbind_add_rule(&set, &config, &r, &o), 0);
	assert_true(o.counted);
	assert_non_null(o.skipped);
	assert_int_equal(o.added, 0);
	assert_int_equal(parse_one("-A CNI-HOSTPORT-DNAT -p tcp --dport 1 -j DNAT --to-destination 1.2.3.4", &r, &reason), 1);
	assert_int_equal(natbind_add_rule(&set, &config, &r, &o), 0);
	assert_false(o.counted);
	natbind_set_free(&set);
}

static void test_diff_changes(void **state)
{
	struct natbind_set before, after;
	struct output out = { "" };

	(void)state;
	natbind_set_init(&before);
	natbind_set_init(&after);
	parse_text(&before, &default_config, AF_INET,
		"-A CNI-DN-a -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:80\n"
		"-A CNI-DN-a -p tcp --dport 81 -j DNAT --to-destination 10.0.0.1:81\n"
		"-A CNI-DN-b -p udp --dport 53 -j DNAT --to-destination 10.0.0.2:53\n");
	parse_text(&after, &default_config, AF_INET,
		"-A CNI-DN-a -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:80\n"
		"-A CNI-DN-a -p tcp --dport 81 -j DNAT --to-destination 10.0.0.9:81\n"
		"-A CNI-DN-c -p tcp --dport 82 -j DNAT --to-destination 10.0.0.3\n");
	natbind_set_finish(&before);
	natbind_set_finish(&after);
	assert_int_equal(natbind_diff(&before, &after, format_event, &out), 4);
	assert_string_equal(out.text,
		"del iptables/CNI-DN-a tcp 0.0.0.0 81 81 target_ip=10.0.0.1\n"
		"add iptables/CNI-DN-a tcp 0.0.0.0 81 81 target_ip=10.0.0.9\n"
		"del iptables/CNI-DN-b udp 0.0.0.0 53 53 target_ip=10.0.0.2\n"
		"add iptables/CNI-DN-c tcp 0.0.0.0 82 - target_ip=10.0.0.3\n");
	out.text[0] = 0;
	assert_int_equal(natbind_diff(&after, &after, format_event, &out), 0);
	assert_string_equal(out.text, "");

	/* Merging two backends keeps both owners of one port. */
	struct natbind_set merged;

	natbind_set_init(&merged);
	assert_int_equal(natbind_set_append(&merged, &before), 0);
	assert_int_equal(natbind_set_append(&merged, &after), 0);
	natbind_set_finish(&merged);
	assert_int_equal(merged.count, 4);
	assert_string_equal(natbind_owner(&merged, &merged.items[3]), "iptables/CNI-DN-c");
	natbind_set_free(&merged);
	natbind_set_free(&before);
	natbind_set_free(&after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_save_ipv4),
		cmocka_unit_test(test_legacy_save_counters),
		cmocka_unit_test(test_legacy_save_ipv6),
		cmocka_unit_test(test_nft_save_mixed_families),
		cmocka_unit_test(test_to_destination_forms),
		cmocka_unit_test(test_matches_and_negation),
		cmocka_unit_test(test_lines_and_sections),
		cmocka_unit_test(test_counting_rules),
		cmocka_unit_test(test_outcome_reports),
		cmocka_unit_test(test_diff_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
