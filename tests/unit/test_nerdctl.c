/* nerdctl port data: the nerdctl/ports label and network-config.json. */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "nerdctl.h"

static jsmntok_t tokens[256];
static struct nerdctl_port ports[16];
static const char *reason;
static int entry;

static int parse(const char *text, enum nerdctl_format format)
{
	reason = NULL;
	return nerdctl_parse_ports(text, strlen(text), format, tokens, 256, ports, 16, &reason, &entry);
}

static void test_label_entries(void **state)
{
	char addr[64];

	assert_int_equal(parse("[{\"HostPort\":8080,\"ContainerPort\":80,\"Protocol\":\"tcp\",\"HostIP\":\"0.0.0.0\"},"
			       "{\"HostPort\":53,\"ContainerPort\":5353,\"Protocol\":\"udp\",\"HostIP\":\"\"},"
			       "{\"HostPort\":443,\"ContainerPort\":8443,\"Protocol\":\"tcp\",\"HostIP\":\"::1\"},"
			       "{\"HostPort\":9,\"ContainerPort\":9,\"Protocol\":\"sctp\"}]", NERDCTL_LABEL), 4);
	assert_int_equal(ports[0].proto, PEV_TCP);
	assert_int_equal(ports[0].host_port, 8080);
	assert_int_equal(ports[0].container_port, 80);
	assert_string_equal(pev_addr_format(&ports[1].host_ip, addr, sizeof addr), "0.0.0.0");
	assert_int_equal(ports[1].proto, PEV_UDP);
	assert_string_equal(pev_addr_format(&ports[2].host_ip, addr, sizeof addr), "::1");
	assert_int_equal(ports[3].proto, PEV_SCTP);
	assert_string_equal(pev_addr_format(&ports[3].host_ip, addr, sizeof addr), "0.0.0.0");
}

static void test_label_empty_array(void **state)
{
	assert_int_equal(parse("[]", NERDCTL_LABEL), 0);
	assert_int_equal(parse("null", NERDCTL_LABEL), -1);
}

static void test_network_config(void **state)
{
	assert_int_equal(parse("{\"portMappings\":[{\"HostPort\":7070,\"ContainerPort\":70,\"Protocol\":\"tcp\",\"HostIP\":\"127.0.0.1\"}],"
			       "\"other\":{\"x\":[1,2]}}", NERDCTL_NETWORK_CONFIG_FILE), 1);
	assert_int_equal(ports[0].host_port, 7070);
	assert_int_equal(parse("{}", NERDCTL_NETWORK_CONFIG_FILE), 0);
	assert_int_equal(parse("{\"portMappings\":null}", NERDCTL_NETWORK_CONFIG_FILE), 0);
	assert_int_equal(parse("[]", NERDCTL_NETWORK_CONFIG_FILE), -1);
	assert_string_equal(reason, "network config is not a JSON object");
}

static void test_malformed_entries(void **state)
{
	static const struct { const char *json; const char *reason; int entry; } cases[] = {
		{ "[{\"HostPort\":80,\"ContainerPort\":80,\"Protocol\":\"tcp\"", "truncated JSON", -1 },
		{ "{\"HostPort\":80}", "label is not a JSON array", -1 },
		{ "[1]", "entry is not an object", 0 },
		{ "[{\"ContainerPort\":80,\"Protocol\":\"tcp\"}]", "missing port number", 0 },
		{ "[{\"HostPort\":0,\"Protocol\":\"tcp\"}]", "port number not an integer in 1-65535", 0 },
		{ "[{\"HostPort\":65536,\"Protocol\":\"tcp\"}]", "port number not an integer in 1-65535", 0 },
		{ "[{\"HostPort\":\"80\",\"Protocol\":\"tcp\"}]", "port number not an integer in 1-65535", 0 },
		{ "[{\"HostPort\":80,\"Protocol\":\"tcp\"},{\"HostPort\":81,\"Protocol\":\"icmp\"}]",
		  "Protocol is not tcp, udp or sctp", 1 },
		{ "[{\"HostPort\":80}]", "missing Protocol", 0 },
		{ "[{\"HostPort\":80,\"Protocol\":\"tcp\",\"HostIP\":\"1.2.3\"}]", "HostIP is not an IPv4 or IPv6 address", 0 },
		{ "[{\"HostPort\":80,\"Protocol\":\"tcp\",\"HostIP\":7}]", "HostIP is not a string", 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_int_equal(parse(cases[i].json, NERDCTL_LABEL), -1);
		assert_string_equal(reason, cases[i].reason);
		assert_int_equal(entry, cases[i].entry);
	}
}

static void test_limits(void **state)
{
	char big[4096];
	size_t len = 0;

	len += (size_t)snprintf(big, sizeof big, "[");
	for (int i = 0; i < 17; i++)
		len += (size_t)snprintf(big + len, sizeof big - len, "%s{\"HostPort\":%d,\"Protocol\":\"tcp\"}",
					i ? "," : "", 1000 + i);
	snprintf(big + len, sizeof big - len, "]");
	assert_int_equal(parse(big, NERDCTL_LABEL), -1);
	assert_string_equal(reason, "too many port entries");
	assert_int_equal(nerdctl_parse_ports(big, strlen(big), NERDCTL_LABEL, tokens, 8, ports, 16,
					     &reason, &entry), -1);
	assert_string_equal(reason, "too many JSON tokens");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_entries),
		cmocka_unit_test(test_label_empty_array),
		cmocka_unit_test(test_network_config),
		cmocka_unit_test(test_malformed_entries),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
