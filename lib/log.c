/* see lib/log.h */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"

static const char *log_name = "rdagent";
static enum log_level log_threshold = LOG_INFO;
static int log_timestamps = -1;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static int parse_level(const char *s, enum log_level *level)
{
	for (unsigned i = 0; i < sizeof level_names / sizeof *level_names; i++) {
		if (!strcmp(s, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	if (!strcmp(s, "warning")) {
		*level = LOG_WARN;
		return 0;
	}
	return -1;
}

void log_init(const char *applet)
{
	/* "rdagent APPLET" calls this twice, first as rdagent. */
	static int warned;
	const char *env = getenv("RDAGENT_LOG");
	enum log_level level;

	log_name = applet;
	if (env && *env) {
		if (parse_level(env, &level) == 0)
			log_threshold = level;
		else if (!warned++)
			log_msg(LOG_WARN, "invalid RDAGENT_LOG value '%s'; expected debug, info, warn or error", env);
	}
}

const char *log_applet(void) { return log_name; }
void log_set_level(enum log_level level) { log_threshold = level; }
enum log_level log_get_level(void) { return log_threshold; }
int log_enabled(enum log_level level) { return level >= log_threshold; }
void log_set_timestamps(int mode) { log_timestamps = mode; }

void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int r;

	if (level < log_threshold)
		return;
	if (log_timestamps < 0)
		log_timestamps = !isatty(2);
	if (log_timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n += strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof line - n, ".%03ldZ ", ts.tv_nsec / 1000000);
		n += (size_t)r;
	}
	r = snprintf(line + n, sizeof line - n, "%s: %s: ", log_name, level_names[level]);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof line) {
		r = vsnprintf(line + n, sizeof line - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (errnum && n < sizeof line) {
		r = snprintf(line + n, sizeof line - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r;
	}
	/* Keep room for the newline; mark a cut message. */
	if (n > sizeof line - 1) {
		n = sizeof line - 1;
		memcpy(line + n - 3, "...", 3);
	}
	line[n++] = '\n';
	full_write(2, line, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_errno(enum log_level level, int errnum, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vmsg(level, errnum, fmt, ap);
	va_end(ap);
	errno = saved;
}

char *log_sanitize(char *dst, size_t dst_size, const char *src, size_t len)
{
	size_t i, n = 0;

	if (!dst_size)
		return dst;
	for (i = 0; i < len && n + 1 < dst_size; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = 0;
	if (i < len && dst_size > 4)
		memcpy(dst + dst_size - 4, "...", 4);
	return dst;
}

int log_limit_allow(struct log_limit *limit, unsigned interval_ms)
{
	uint64_t now = clock_ms();

	if (limit->last_ms && now - limit->last_ms < interval_ms) {
		limit->suppressed++;
		return 0;
	}
	limit->last_ms = now ? now : 1;
	return 1;
}
