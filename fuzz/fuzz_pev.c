/* libFuzzer target for the port-event stream.  The first input byte sets
 * the size of the pieces the line reader is fed.  Each line goes through
 * pev_parse, and each accepted event is applied to a binding table whose
 * open endpoints must match the callbacks.  An accepted event must also
 * format back into a line that parses to the same event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "log.h"
#include "pev.h"

struct state {
	struct binding_table table;
	long open_endpoints;
};

static void opened(void *ctx, struct endpoint *e)
{
	((struct state *)ctx)->open_endpoints++;
}

static void closed(void *ctx, struct endpoint *e)
{
	if (e->owners != 0)
		abort();
	((struct state *)ctx)->open_endpoints--;
}

static const struct binding_ops ops = { .opened = opened, .closed = closed };

static void check_round_trip(const struct pev *ev)
{
	char line[PEV_LINE_MAX + 1];
	struct pev again;
	const char *reason;
	int n = pev_format(ev, line, sizeof line);

	/* Formatting normalises IPv6 addresses, and the normal form can be
	 * longer ("::ffff:a:a" becomes "::ffff:0.10.0.10"), so a line near
	 * the limit may no longer fit.  That is the only allowed failure. */
	if (n < 0)
		return;
	if (pev_parse(line, (size_t)n - 1, &again, &reason) != 0)
		abort();
	if (again.verb != ev->verb || strcmp(again.source, ev->source))
		abort();
	if (ev->verb == PEV_SYNC || ev->verb == PEV_DONE)
		return;
	if (strcmp(again.owner, ev->owner) || again.proto != ev->proto ||
	    !pev_addr_equal(&again.host_ip, &ev->host_ip) || again.host_port != ev->host_port ||
	    again.target_port != ev->target_port || strcmp(again.attrs, ev->attrs))
		abort();
}

static void on_line(void *ctx, const char *line, size_t len, unsigned long lineno, int too_long)
{
	struct state *s = ctx;
	struct pev ev;
	const char *reason = NULL;
	int r;

	if (len > PEV_LINE_MAX)
		abort();
	if (too_long)
		return;
	r = pev_parse(line, len, &ev, &reason);
	if (r < 0 && !reason)
		abort();
	if (r != 0)
		return;
	check_round_trip(&ev);
	bt_apply(&s->table, &ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct state s = { .open_endpoints = 0 };
	struct pev_reader reader;
	size_t piece;

	if (!initialised) {
		log_init("fuzz_pev");
		log_set_level(LOG_ERROR);
		initialised = 1;
	}
	if (size < 1)
		return 0;
	piece = data[0] ? data[0] : 1;
	data++;
	size--;
	if (bt_init(&s.table, &ops, &s) < 0)
		return 0;
	pev_reader_init(&reader);
	for (size_t off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		pev_reader_feed(&reader, (const char *)data + off, n, on_line, &s);
	}
	pev_reader_finish(&reader, on_line, &s);
	if (s.open_endpoints != (long)s.table.endpoint_count)
		abort();
	bt_withdraw_all(&s.table);
	if (s.open_endpoints != 0 || s.table.binding_count != 0)
		abort();
	bt_free(&s.table);
	return 0;
}
