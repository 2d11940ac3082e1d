/* see lib/replay.h */
#include "replay.h"

#include <stdio.h>
#include <string.h>

#include "pev.h"

static int emit_binding(const struct binding *b, replay_line_fn *fn, void *ctx)
{
	struct pev ev;
	char line[PEV_LINE_MAX];
	int n;

	bt_binding_event(b, PEV_ADD, &ev);
	n = pev_format(&ev, line, sizeof line);
	/* A binding in the table came from a line that parsed, so it
	 * formats; skip it rather than stop if that ever fails. */
	return n < 0 ? 0 : fn(ctx, line, (size_t)n);
}

/* Distinct sources with unconfirmed bindings.  Sources are the agent's
 * children, a handful; past SYNC_SOURCES_MAX a source may get its sync
 * written twice, which changes nothing for the consumer. */
#define SYNC_SOURCES_MAX 32

static int source_listed(char seen[][PEV_SOURCE_MAX + 1], unsigned count, const char *source)
{
	for (unsigned i = 0; i < count; i++)
		if (!strcmp(seen[i], source))
			return 1;
	return 0;
}

long replay_table(const struct binding_table *t, replay_line_fn *fn, void *ctx)
{
	const struct binding *oldest = t->bindings, *b;
	char seen[SYNC_SOURCES_MAX][PEV_SOURCE_MAX + 1];
	unsigned seen_count = 0;
	long lines = 0;
	int r;

	while (oldest && oldest->next)
		oldest = oldest->next;

	for (b = oldest; b; b = b->prev) {
		if (!b->unconfirmed)
			continue;
		if ((r = emit_binding(b, fn, ctx)) < 0)
			return r;
		lines++;
	}
	for (b = oldest; b; b = b->prev) {
		char source[PEV_SOURCE_MAX + 1];
		char line[PEV_SOURCE_MAX + 8];
		int n;

		if (!b->unconfirmed || b->source_len > PEV_SOURCE_MAX)
			continue;
		memcpy(source, b->owner, b->source_len);
		source[b->source_len] = 0;
		if (source_listed(seen, seen_count, source))
			continue;
		if (seen_count < SYNC_SOURCES_MAX)
			strcpy(seen[seen_count++], source);
		n = snprintf(line, sizeof line, "sync %s\n", source);
		if ((r = fn(ctx, line, (size_t)n)) < 0)
			return r;
		lines++;
	}
	for (b = oldest; b; b = b->prev) {
		if (b->unconfirmed)
			continue;
		if ((r = emit_binding(b, fn, ctx)) < 0)
			return r;
		lines++;
	}
	return lines;
}
