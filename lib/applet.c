/* see lib/applet.h */
#include "applet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

void die_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, errnum, fmt, ap);
	va_end(ap);
	exit(code);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: see '%s --help'\n", log_applet(), log_applet());
	exit(EXIT_USAGE);
}

int applet_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char spec[128];
	int c;

	/* '+' stops at the first operand; ':' reports a missing argument as ':'. */
	snprintf(spec, sizeof spec, "+:%s%s", shortopts, COMMON_SHORT_OPTIONS);
	opterr = 0;
	for (;;) {
		int prev = optind;

		c = getopt_long(argc, argv, spec, longopts, NULL);
		switch (c) {
		case 'v':
			log_set_level(LOG_DEBUG);
			continue;
		case 'q':
			log_set_level(LOG_WARN);
			continue;
		case ':':
			usage_error("option '%s' requires a value", argv[optind - 1]);
		case '?': {
			const char *arg = argv[optind - 1 >= prev ? optind - 1 : prev];

			/* A long option is named as written; getopt sets optopt to
			 * its value even when the problem is "--flag=value". */
			if (!strncmp(arg, "--", 2) && strchr(arg, '='))
				usage_error("option '%.*s' takes no value (in '%s')",
					    (int)(strchr(arg, '=') - arg), arg, arg);
			if (!strncmp(arg, "--", 2) || !optopt)
				usage_error("unknown option '%s'", arg);
			usage_error("unknown option '-%c'", optopt);
		}
		default:
			return c;
		}
	}
}

unsigned long parse_number(const char *s, unsigned long min, unsigned long max, const char *name)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		usage_error("invalid value '%s' for %s: expected a number from %lu to %lu", s, name, min, max);
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		usage_error("invalid value '%s' for %s: expected a number from %lu to %lu", s, name, min, max);
	return v;
}

int parse_bool(const char *s, const char *name)
{
	if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no"))
		return 0;
	usage_error("invalid value '%s' for %s: expected true or false (or 1/0, yes/no)", s, name);
}

void no_arguments(int argc, char **argv)
{
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}
