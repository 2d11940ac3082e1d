/* Diagnostics on stderr, one write(2) per line.
 *
 * Line shape: [TIMESTAMP ]APPLET: LEVEL: message[: strerror]
 * The ISO-8601 UTC timestamp is added when stderr is not a terminal, so
 * logs collected by a supervisor can be ordered.  The level threshold comes
 * from RDAGENT_LOG (debug, info, warn, error), then from -v/--debug and -q.
 */
#ifndef RDAGENT_LOG_H
#define RDAGENT_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Maximum length of one log line, including the newline.  Longer messages
 * are cut and end with "..." because a log line must stay one write. */
#define LOG_LINE_MAX 1024

/* Sets the applet name used as the prefix and reads RDAGENT_LOG. */
void log_init(const char *applet);
const char *log_applet(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_enabled(enum log_level level);
/* Forces (1) or suppresses (0) the timestamp prefix; -1 decides by isatty. */
void log_set_timestamps(int mode);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Like log_msg, followed by ": " and strerror(errnum); errnum 0 adds nothing. */
void log_errno(enum log_level level, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Copies untrusted text into dst for logging: control bytes and bytes
 * outside printable ASCII become '?', and the copy is cut at dst_size - 1
 * with "..." appended when it does not fit.  Returns dst. */
char *log_sanitize(char *dst, size_t dst_size, const char *src, size_t len);

/* Suppresses repeats of one error in a tight loop: log_limit_allow returns 1
 * for the first occurrence and then at most once per interval_ms.  It counts
 * the suppressed occurrences in suppressed; the caller may report that
 * count in the next allowed message and reset it. */
struct log_limit {
	uint64_t last_ms;
	unsigned suppressed;
};
int log_limit_allow(struct log_limit *limit, unsigned interval_ms);

#endif
