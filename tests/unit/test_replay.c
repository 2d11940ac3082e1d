/* Replaying a binding table into an empty consumer. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "pev.h"
#include "replay.h"

static void apply_line(struct binding_table *t, const char *line)
{
	struct pev ev;
	const char *reason = NULL;
	size_t len = strlen(line);

	if (len && line[len - 1] == '\n')
		len--;
	if (pev_parse(line, len, &ev, &reason) != 0)
		fail_msg("line '%s' did not parse: %s", line, reason ? reason : "ignored");
	assert_true(bt_apply(t, &ev) >= 0);
}

struct capture {
	struct binding_table *consumer;
	char text[8192];
	size_t len;
};

static int capture_line(void *ctx, const char *line, size_t len)
{
	struct capture *c = ctx;
	char copy[PEV_LINE_MAX + 1];

	assert_true(len > 0 && len <= PEV_LINE_MAX && line[len - 1] == '\n');
	memcpy(copy, line, len);
	copy[len] = 0;
	if (c->len + len < sizeof c->text) {
		memcpy(c->text + c->len, line, len);
		c->len += len;
		c->text[c->len] = 0;
	}
	if (c->consumer)
		apply_line(c->consumer, copy);
	return 0;
}

/* Writes the table's bindings as sorted "add" lines, one string, so two
 * tables can be compared. */
static char *dump(const struct binding_table *t)
{
	char *lines[64];
	size_t n = 0, total = 1;
	char *out;

	for (const struct binding *b = t->bindings; b; b = b->next) {
		struct pev ev;
		char buf[PEV_LINE_MAX];

		assert_true(n < 64);
		bt_binding_event(b, PEV_ADD, &ev);
		assert_true(pev_format(&ev, buf, sizeof buf) > 0);
		lines[n] = strdup(buf);
		total += strlen(buf);
		n++;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(lines[j], lines[i]) < 0) {
				char *tmp = lines[i];

				lines[i] = lines[j];
				lines[j] = tmp;
			}
	out = calloc(1, total);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		free(lines[i]);
	}
	return out;
}

static void assert_same_state(const struct binding_table *a, const struct binding_table *b)
{
	char *da = dump(a), *db = dump(b);

	assert_string_equal(da, db);
	free(da);
	free(db);
}

static const char *const history[] = {
	"add docker/aaa tcp 0.0.0.0 8080 80 target_ip=172.17.0.2",
	"add docker/aaa udp 0.0.0.0 8080 80",
	"add docker/bbb tcp :: 9090 90",
	"add kubernetes/default/web tcp 0.0.0.0 30080 80",
	"del docker/aaa udp 0.0.0.0 8080 80",
	/* docker-watch restarts: a snapshot keeps aaa, drops bbb, adds ccc. */
	"sync docker",
	"add docker/aaa tcp 0.0.0.0 8080 80 target_ip=172.17.0.2",
	"add docker/ccc tcp 127.0.0.1 7000 7000",
	"done docker",
	"add kubernetes/default/web udp 0.0.0.0 30053 53",
	/* nodeport-watch relists and drops the udp port. */
	"sync kubernetes",
	"add kubernetes/default/web tcp 0.0.0.0 30080 80",
	"done kubernetes",
};

#define HISTORY_LEN (sizeof history / sizeof *history)

/* A consumer restarted after any prefix of the history, fed the replay
 * and then the rest of the history, ends with the same bindings as the
 * table that saw everything.  This covers a replay in the middle of a
 * snapshot, where the coming done must withdraw bbb in the consumer too. */
static void replay_at_every_point(void **state)
{
	(void)state;
	for (size_t cut = 0; cut <= HISTORY_LEN; cut++) {
		struct binding_table agent, consumer;
		struct capture cap = { .consumer = &consumer };

		assert_int_equal(bt_init(&agent, NULL, NULL), 0);
		assert_int_equal(bt_init(&consumer, NULL, NULL), 0);
		for (size_t i = 0; i < cut; i++)
			apply_line(&agent, history[i]);
		assert_true(replay_table(&agent, capture_line, &cap) >= 0);
		assert_same_state(&agent, &consumer);
		for (size_t i = cut; i < HISTORY_LEN; i++) {
			apply_line(&agent, history[i]);
			apply_line(&consumer, history[i]);
			assert_same_state(&agent, &consumer);
		}
		bt_free(&agent);
		bt_free(&consumer);
	}
}

/* Inside an open snapshot, the unconfirmed bindings come first, then one
 * sync per source, then the confirmed ones; oldest first within each. */
static void replay_order_in_snapshot(void **state)
{
	struct binding_table agent;
	struct capture cap = { 0 };

	(void)state;
	assert_int_equal(bt_init(&agent, NULL, NULL), 0);
	apply_line(&agent, "add docker/aaa tcp 0.0.0.0 8080 80");
	apply_line(&agent, "add docker/bbb tcp 0.0.0.0 9090 90");
	apply_line(&agent, "add iptables/CNI-DN-1 tcp 0.0.0.0 8081 80 target_ip=10.4.0.7");
	apply_line(&agent, "sync docker");
	apply_line(&agent, "add docker/bbb tcp 0.0.0.0 9090 90");
	assert_int_equal(replay_table(&agent, capture_line, &cap), 4);
	assert_string_equal(cap.text,
			    "add docker/aaa tcp 0.0.0.0 8080 80\n"
			    "sync docker\n"
			    "add docker/bbb tcp 0.0.0.0 9090 90\n"
			    "add iptables/CNI-DN-1 tcp 0.0.0.0 8081 80 target_ip=10.4.0.7\n");
	bt_free(&agent);
}

static void replay_empty_table(void **state)
{
	struct binding_table agent;
	struct capture cap = { 0 };

	(void)state;
	assert_int_equal(bt_init(&agent, NULL, NULL), 0);
	assert_int_equal(replay_table(&agent, capture_line, &cap), 0);
	assert_int_equal(cap.len, 0);
	bt_free(&agent);
}

static int fail_second(void *ctx, const char *line, size_t len)
{
	int *calls = ctx;

	(void)line;
	(void)len;
	return ++*calls == 2 ? -ENOSPC : 0;
}

static void replay_stops_on_error(void **state)
{
	struct binding_table agent;
	int calls = 0;

	(void)state;
	assert_int_equal(bt_init(&agent, NULL, NULL), 0);
	apply_line(&agent, "add docker/aaa tcp 0.0.0.0 8080 80");
	apply_line(&agent, "add docker/bbb tcp 0.0.0.0 9090 90");
	apply_line(&agent, "add docker/ccc tcp 0.0.0.0 7070 70");
	assert_int_equal(replay_table(&agent, fail_second, &calls), -ENOSPC);
	assert_int_equal(calls, 2);
	bt_free(&agent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay_at_every_point),
		cmocka_unit_test(replay_order_in_snapshot),
		cmocka_unit_test(replay_empty_table),
		cmocka_unit_test(replay_stops_on_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
