/* Replays a binding table as port-event lines, so that a consumer that
 * starts empty ends up with the same state as the table, including a
 * snapshot that is still open.
 *
 * The agent keeps one table per sink and replays it into a restarted
 * sink before forwarding any new event. */
#ifndef RDAGENT_REPLAY_H
#define RDAGENT_REPLAY_H

#include <stddef.h>

#include "bindings.h"

/* Receives one formatted line, with its newline.  Returns 0, or a
 * negative errno value that stops the replay. */
typedef int replay_line_fn(void *ctx, const char *line, size_t len);

/* Writes, oldest binding first:
 *   1. an add for every binding that an open snapshot has not confirmed
 *      yet,
 *   2. a sync for every source that has such bindings,
 *   3. an add for every other binding.
 * A consumer that applies these lines holds every binding, and the
 * source's coming done withdraws exactly the ones it would have withdrawn
 * from the table.  Attributes other than target_ip are not kept by the
 * table and so are not replayed.  Returns the number of lines, or the
 * callback's negative errno value. */
long replay_table(const struct binding_table *t, replay_line_fn *fn, void *ctx);

#endif
