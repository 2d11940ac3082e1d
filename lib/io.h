/* Blocking-safe I/O helpers: full_ loops until done, and every call
 * retries EINTR.  They return 0 or a negative errno value. */
#ifndef RDAGENT_IO_H
#define RDAGENT_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes, retrying EINTR and short writes; EAGAIN is waited
 * out with poll.  Returns 0 or -errno. */
int full_write(int fd, const void *buf, size_t len);
/* read(2) that retries EINTR; returns bytes read, 0 at end, or -errno. */
ssize_t safe_read(int fd, void *buf, size_t len);
/* Sets or clears O_NONBLOCK; returns 0 or -errno. */
int fd_set_nonblock(int fd, int on);
int fd_set_cloexec(int fd);
/* Reads a small file (a /proc entry) with one read into buf and
 * NUL-terminates it.  Returns the length, or -errno; a file longer than
 * size - 1 bytes is cut there, which suits /proc entries read for a few
 * fields near their start. */
ssize_t read_small_file(const char *path, char *buf, size_t size);

#endif
