/* Monotonic time in milliseconds, the unit of every timer and backoff. */
#ifndef RDAGENT_CLOCK_H
#define RDAGENT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Exponential backoff: each step doubles the delay, from initial_ms up to
 * max_ms.  backoff_next returns the delay to wait now. */
struct backoff {
	unsigned initial_ms;
	unsigned max_ms;
	unsigned current_ms;
};

static inline void backoff_init(struct backoff *b, unsigned initial_ms, unsigned max_ms)
{
	b->initial_ms = initial_ms;
	b->max_ms = max_ms;
	b->current_ms = 0;
}

static inline void backoff_reset(struct backoff *b) { b->current_ms = 0; }

static inline unsigned backoff_next(struct backoff *b)
{
	if (!b->current_ms)
		b->current_ms = b->initial_ms;
	else if (b->current_ms < b->max_ms / 2)
		b->current_ms *= 2;
	else
		b->current_ms = b->max_ms;
	return b->current_ms;
}

#endif
