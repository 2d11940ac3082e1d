/* Fuzzes the Go-style flag parser, the option checks and the plan
 * builder: the input is argv, one argument per NUL-separated field. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentplan.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	struct agent_config cfg;
	struct plan plan;
	char err[256], line[1024];
	size_t start = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	argv[argc++] = "rancher-desktop-guestagent";
	for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
		if (i == size || copy[i] == 0) {
			copy[i] = 0;
			argv[argc++] = copy + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;

	agent_config_init(&cfg);
	if (agent_parse_go_flags(&cfg, argc, argv, err, sizeof err) == 0 &&
	    agent_config_check(&cfg, err, sizeof err) == 0 &&
	    plan_build(&cfg, NULL, &plan, err, sizeof err) == 0)
		plan_describe(&plan, line, sizeof line);
	free(copy);
	return 0;
}
