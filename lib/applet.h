/* Helpers for applets only: they print and exit, so lib/ parsers never
 * call them (unit tests and fuzz targets cannot survive exit()). */
#ifndef RDAGENT_APPLET_H
#define RDAGENT_APPLET_H

#include <getopt.h>

#include "exitcode.h"
#include "log.h"

/* Every applet's entry point has this shape; see the generated table. */
typedef int applet_main_fn(int argc, char **argv);

_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void die_errno(int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints "APPLET: error: MESSAGE" and "see 'APPLET --help'", exits 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Long options that every applet accepts: -v/--debug/--verbose and -q/--quiet. */
#define COMMON_LONG_OPTIONS \
	{ "debug", no_argument, 0, 'v' }, \
	{ "verbose", no_argument, 0, 'v' }, \
	{ "quiet", no_argument, 0, 'q' }
#define COMMON_SHORT_OPTIONS "vq"

/* Runs getopt_long without permuting argv and without getopt's own
 * messages; handles the common options; turns an unknown option or a
 * missing argument into usage_error.  Returns the next applet option, or
 * -1 at the end of options. */
int applet_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Parses a decimal number in [min, max] for option name, or usage_error. */
unsigned long parse_number(const char *s, unsigned long min, unsigned long max, const char *name);
/* Parses true/false/1/0/yes/no for option name, or usage_error. */
int parse_bool(const char *s, const char *name);

/* Rejects positional arguments after the options. */
void no_arguments(int argc, char **argv);

#endif
