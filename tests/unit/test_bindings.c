/* Binding table: idempotent add/del, reference-counted endpoints and
 * sync/done snapshots. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bindings.h"
#include "pev.h"

/* Every callback appends one line ("opened tcp 0.0.0.0 80", "added
 * docker/a tcp 0.0.0.0 80", ...) so a test can compare the sequence. */
struct recorder {
	char log[64][96];
	int count;
};

static void record(struct recorder *r, const char *what, const char *owner,
		   enum pev_proto proto, const struct pev_addr *addr, uint16_t port)
{
	char text[INET6_ADDRSTRLEN];

	/* Calls past the 64th are counted but not kept; expect() then fails. */
	if (r->count < 64)
		snprintf(r->log[r->count], sizeof r->log[0], "%s%s%s %s %s %u", what, owner ? " " : "",
			 owner ? owner : "", pev_proto_name(proto),
			 pev_addr_format(addr, text, sizeof text), port);
	r->count++;
}

static void on_added(void *ctx, struct binding *b)
{
	record(ctx, "added", b->owner, b->proto, &b->host_ip, b->host_port);
	/* A binding is added after its endpoint opened. */
	assert_non_null(b->endpoint);
	assert_true(b->endpoint->owners >= 1);
}

static void on_removed(void *ctx, struct binding *b)
{
	record(ctx, "removed", b->owner, b->proto, &b->host_ip, b->host_port);
}

static void on_opened(void *ctx, struct endpoint *e)
{
	record(ctx, "opened", NULL, e->proto, &e->addr, e->port);
}

static void on_closed(void *ctx, struct endpoint *e)
{
	assert_int_equal(e->owners, 0);
	record(ctx, "closed", NULL, e->proto, &e->addr, e->port);
}

static const struct binding_ops ops = { on_added, on_removed, on_opened, on_closed };

struct fixture {
	struct binding_table table;
	struct recorder rec;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof f);
	assert_int_equal(bt_init(&f.table, &ops, &f.rec), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	bt_free(&f->table);
	return 0;
}

/* Parses and applies line; returns bt_apply's result. */
static int apply(struct fixture *f, const char *line)
{
	struct pev ev;
	const char *reason = NULL;

	if (pev_parse(line, strlen(line), &ev, &reason) != 0)
		fail_msg("test line '%s' does not parse: %s", line, reason);
	return bt_apply(&f->table, &ev);
}

/* Asserts that the callbacks since the last call were exactly the
 * NULL-terminated list, then clears the record. */
static void expect(struct fixture *f, ...)
{
	va_list ap;
	const char *want;
	int i = 0;

	va_start(ap, f);
	while ((want = va_arg(ap, const char *))) {
		if (i >= f->rec.count)
			fail_msg("callback %d missing: expected '%s'", i, want);
		assert_string_equal(f->rec.log[i], want);
		i++;
	}
	va_end(ap);
	if (i != f->rec.count)
		fail_msg("unexpected callback %d: '%s'", i, i < 64 ? f->rec.log[i] : "(not kept)");
	f->rec.count = 0;
}

static int has_binding(struct fixture *f, const char *owner, const char *addr, uint16_t port)
{
	struct pev_addr a;

	assert_int_equal(pev_addr_parse(addr, strlen(addr), &a), 0);
	return bt_find(&f->table, owner, PEV_TCP, &a, port) != NULL;
}

static void add_is_idempotent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, "add docker/a tcp 0.0.0.0 80 8080"), 1);
	expect(f, "opened tcp 0.0.0.0 80", "added docker/a tcp 0.0.0.0 80", NULL);
	assert_int_equal(apply(f, "add docker/a tcp 0.0.0.0 80 8080"), 0);
	/* The target is not part of the binding: a changed target is the same binding. */
	assert_int_equal(apply(f, "add docker/a tcp 0.0.0.0 80 9090"), 0);
	expect(f, NULL);
	assert_int_equal(f->table.binding_count, 1);
	assert_int_equal(f->table.endpoint_count, 1);
}

static void del_is_idempotent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(apply(f, "del docker/a tcp 0.0.0.0 80 80"), 0);
	expect(f, NULL);
	assert_int_equal(apply(f, "add docker/a tcp 0.0.0.0 80 80"), 1);
	assert_int_equal(apply(f, "del docker/a tcp 0.0.0.0 80 -"), 1);
	expect(f, "opened tcp 0.0.0.0 80", "added docker/a tcp 0.0.0.0 80",
	       "removed docker/a tcp 0.0.0.0 80", "closed tcp 0.0.0.0 80", NULL);
	assert_int_equal(apply(f, "del docker/a tcp 0.0.0.0 80 -"), 0);
	expect(f, NULL);
	assert_int_equal(f->table.binding_count, 0);
	assert_int_equal(f->table.endpoint_count, 0);
}

static void bindings_are_distinct(void **state)
{
	struct fixture *f = *state;

	/* Each field of (OWNER, PROTO, HOST_IP, HOST_PORT) makes a new binding. */
	assert_int_equal(apply(f, "add docker/a tcp 0.0.0.0 80 80"), 1);
	assert_int_equal(apply(f, "add docker/a udp 0.0.0.0 80 80"), 1);
	assert_int_equal(apply(f, "add docker/a tcp :: 80 80"), 1);
	assert_int_equal(apply(f, "add docker/a tcp 0.0.0.0 81 80"), 1);
	assert_int_equal(apply(f, "add docker/b tcp 0.0.0.0 80 80"), 1);
	assert_int_equal(f->table.binding_count, 5);
	assert_int_equal(f->table.endpoint_count, 4);
	/* :: and 0.0.0.0 are different endpoints even though both are "any". */
	assert_int_equal(apply(f, "del docker/a tcp :: 80 80"), 1);
	assert_true(has_binding(f, "docker/a", "0.0.0.0", 80));
	assert_false(has_binding(f, "docker/a", "::", 80));
}

static void endpoint_reference_counts(void **state)
{
	struct fixture *f = *state;
	struct pev_addr any;
	struct endpoint *e;

	assert_int_equal(pev_addr_parse("0.0.0.0", 7, &any), 0);
	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "add iptables/CNI-DN-1 tcp 0.0.0.0 80 80");
	apply(f, "add kubernetes/default/svc tcp 0.0.0.0 80 80");
	expect(f, "opened tcp 0.0.0.0 80", "added docker/a tcp 0.0.0.0 80",
	       "added iptables/CNI-DN-1 tcp 0.0.0.0 80",
	       "added kubernetes/default/svc tcp 0.0.0.0 80", NULL);
	e = bt_find_endpoint(&f->table, PEV_TCP, &any, 80);
	assert_non_null(e);
	assert_int_equal(e->owners, 3);

	apply(f, "del docker/a tcp 0.0.0.0 80 80");
	apply(f, "del docker/a tcp 0.0.0.0 80 80");
	assert_int_equal(e->owners, 2);
	apply(f, "del iptables/CNI-DN-1 tcp 0.0.0.0 80 80");
	assert_int_equal(e->owners, 1);
	expect(f, "removed docker/a tcp 0.0.0.0 80", "removed iptables/CNI-DN-1 tcp 0.0.0.0 80", NULL);
	apply(f, "del kubernetes/default/svc tcp 0.0.0.0 80 80");
	expect(f, "removed kubernetes/default/svc tcp 0.0.0.0 80", "closed tcp 0.0.0.0 80", NULL);
	assert_null(bt_find_endpoint(&f->table, PEV_TCP, &any, 80));
}

static void snapshot_drops_keeps_adds(void **state)
{
	struct fixture *f = *state;

	apply(f, "add docker/keep tcp 0.0.0.0 1000 80");
	apply(f, "add docker/drop tcp 0.0.0.0 1001 80");
	apply(f, "add iptables/other tcp 0.0.0.0 1001 80");
	expect(f, "opened tcp 0.0.0.0 1000", "added docker/keep tcp 0.0.0.0 1000",
	       "opened tcp 0.0.0.0 1001", "added docker/drop tcp 0.0.0.0 1001",
	       "added iptables/other tcp 0.0.0.0 1001", NULL);

	assert_int_equal(apply(f, "sync docker"), 0);
	assert_int_equal(apply(f, "add docker/keep tcp 0.0.0.0 1000 80"), 0);
	assert_int_equal(apply(f, "add docker/new tcp 0.0.0.0 1002 80"), 1);
	/* Only the add of a new binding made a callback so far. */
	expect(f, "opened tcp 0.0.0.0 1002", "added docker/new tcp 0.0.0.0 1002", NULL);
	assert_int_equal(apply(f, "done docker"), 1);
	/* The other source's owner keeps endpoint 1001 open. */
	expect(f, "removed docker/drop tcp 0.0.0.0 1001", NULL);
	assert_true(has_binding(f, "docker/keep", "0.0.0.0", 1000));
	assert_true(has_binding(f, "docker/new", "0.0.0.0", 1002));
	assert_true(has_binding(f, "iptables/other", "0.0.0.0", 1001));
	assert_false(has_binding(f, "docker/drop", "0.0.0.0", 1001));

	/* A snapshot that keeps everything changes nothing. */
	apply(f, "sync docker");
	apply(f, "add docker/new tcp 0.0.0.0 1002 80");
	apply(f, "add docker/keep tcp 0.0.0.0 1000 80");
	assert_int_equal(apply(f, "done docker"), 0);
	expect(f, NULL);

	/* An empty snapshot withdraws every binding of the source. */
	apply(f, "sync docker");
	assert_int_equal(apply(f, "done docker"), 1);
	assert_int_equal(f->table.binding_count, 1);
	assert_true(has_binding(f, "iptables/other", "0.0.0.0", 1001));
}

static void snapshot_source_prefix(void **state)
{
	struct fixture *f = *state;

	/* "dock" is not a prefix match for "docker/...": the source must be equal. */
	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "add dock/a tcp 0.0.0.0 81 80");
	apply(f, "add docker-2/a tcp 0.0.0.0 82 80");
	apply(f, "sync dock");
	apply(f, "done dock");
	assert_true(has_binding(f, "docker/a", "0.0.0.0", 80));
	assert_false(has_binding(f, "dock/a", "0.0.0.0", 81));
	assert_true(has_binding(f, "docker-2/a", "0.0.0.0", 82));
}

static void snapshots_interleaved(void **state)
{
	struct fixture *f = *state;

	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "add docker/b tcp 0.0.0.0 81 80");
	apply(f, "add iptables/x tcp 0.0.0.0 80 80");
	apply(f, "add iptables/y tcp 0.0.0.0 82 80");
	f->rec.count = 0;

	apply(f, "sync docker");
	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "sync iptables");
	apply(f, "add iptables/y tcp 0.0.0.0 82 80");
	apply(f, "add iptables/z tcp 0.0.0.0 81 80");
	/* docker's snapshot ends first and drops docker/b, but iptables/z
	 * was added meanwhile, so endpoint 81 stays open. */
	assert_int_equal(apply(f, "done docker"), 1);
	expect(f, "added iptables/z tcp 0.0.0.0 81", "removed docker/b tcp 0.0.0.0 81", NULL);
	/* iptables/x is still unconfirmed in the open iptables snapshot. */
	assert_true(has_binding(f, "iptables/x", "0.0.0.0", 80));
	assert_int_equal(apply(f, "done iptables"), 1);
	/* docker/a keeps endpoint 80 open. */
	expect(f, "removed iptables/x tcp 0.0.0.0 80", NULL);
	assert_true(has_binding(f, "docker/a", "0.0.0.0", 80));
	assert_true(has_binding(f, "iptables/y", "0.0.0.0", 82));
	assert_true(has_binding(f, "iptables/z", "0.0.0.0", 81));
	assert_int_equal(f->table.binding_count, 3);
	assert_int_equal(f->table.endpoint_count, 3);
}

static void snapshot_restarted(void **state)
{
	struct fixture *f = *state;

	/* A source that reconnects mid-snapshot starts a new one; bindings it
	 * confirmed in the abandoned snapshot must be confirmed again. */
	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "add docker/b tcp 0.0.0.0 81 80");
	apply(f, "sync docker");
	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "sync docker");
	apply(f, "add docker/b tcp 0.0.0.0 81 80");
	apply(f, "done docker");
	assert_false(has_binding(f, "docker/a", "0.0.0.0", 80));
	assert_true(has_binding(f, "docker/b", "0.0.0.0", 81));
	/* A del inside a snapshot removes at once; done without sync is harmless. */
	apply(f, "sync docker");
	apply(f, "del docker/b tcp 0.0.0.0 81 80");
	assert_false(has_binding(f, "docker/b", "0.0.0.0", 81));
	assert_int_equal(apply(f, "done docker"), 0);
	assert_int_equal(apply(f, "done docker"), 0);
}

static void withdraw_all_closes(void **state)
{
	struct fixture *f = *state;

	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "add iptables/b tcp 0.0.0.0 80 80");
	apply(f, "add iptables/b udp ::1 53 53");
	f->rec.count = 0;
	bt_withdraw_all(&f->table);
	assert_int_equal(f->rec.count, 5);
	assert_int_equal(f->table.binding_count, 0);
	assert_int_equal(f->table.endpoint_count, 0);
	assert_null(f->table.bindings);
	assert_null(f->table.endpoints);
}

static void many_bindings_grow(void **state)
{
	struct fixture *f = *state;
	char line[128];
	int src3 = 0;

	/* Enough to make both hashes grow several times. */
	for (int i = 1; i <= 3000; i++) {
		snprintf(line, sizeof line, "add src%d/id-%d tcp 127.0.0.1 %d %d", i % 7, i, i % 1500 + 1, i);
		assert_int_equal(apply(f, line), 1);
		src3 += i % 7 == 3;
	}
	assert_int_equal(f->table.binding_count, 3000);
	assert_int_equal(f->table.endpoint_count, 1500);
	for (int i = 1; i <= 3000; i++) {
		char owner[32];
		struct pev_addr a;

		snprintf(owner, sizeof owner, "src%d/id-%d", i % 7, i);
		assert_int_equal(pev_addr_parse("127.0.0.1", 9, &a), 0);
		assert_non_null(bt_find(&f->table, owner, PEV_TCP, &a, (uint16_t)(i % 1500 + 1)));
	}
	apply(f, "sync src3");
	apply(f, "done src3");
	assert_int_equal(f->table.binding_count, 3000 - src3);
	f->rec.count = 0;
	bt_withdraw_all(&f->table);
	/* Every removal and every close made exactly one callback. */
	assert_int_equal(f->rec.count, 3000 - src3 + 1500);
}

static void binding_event_round_trip(void **state)
{
	struct fixture *f = *state;
	struct pev ev;
	char out[PEV_LINE_MAX];
	int n;

	apply(f, "add containerd/default/web tcp ::1 8443 443 target_ip=10.4.0.2");
	bt_binding_event(f->table.bindings, PEV_DEL, &ev);
	n = pev_format(&ev, out, sizeof out);
	assert_int_equal(n, (int)strlen(out));
	assert_string_equal(out, "del containerd/default/web tcp ::1 8443 443 target_ip=10.4.0.2\n");
	assert_string_equal(ev.source, "containerd");
}

/* Writes the owners in e->bindings, front to back, as "a,b,c", and
 * checks the backward links and the owner count on the way. */
static const char *endpoint_owners(const struct endpoint *e, char *buf, size_t size)
{
	const struct binding *prev = NULL;
	size_t used = 0;
	unsigned n = 0;

	buf[0] = 0;
	for (const struct binding *b = e->bindings; b; b = b->endpoint_next) {
		assert_ptr_equal(b->endpoint_prev, prev);
		assert_ptr_equal(b->endpoint, e);
		used += (size_t)snprintf(buf + used, size - used, "%s%s", n ? "," : "", b->owner);
		prev = b;
		n++;
	}
	assert_int_equal(n, e->owners);
	return buf;
}

static void endpoint_lists_its_bindings(void **state)
{
	struct fixture *f = *state;
	struct pev_addr any;
	struct endpoint *e;
	char owners[256];

	pev_addr_parse("0.0.0.0", 7, &any);
	apply(f, "add docker/a tcp 0.0.0.0 80 80");
	apply(f, "add docker/b tcp 0.0.0.0 80 80");
	apply(f, "add docker/other tcp 0.0.0.0 81 80");
	apply(f, "add k8s/c tcp 0.0.0.0 80 80");
	e = bt_find_endpoint(&f->table, PEV_TCP, &any, 80);
	assert_non_null(e);
	assert_string_equal(endpoint_owners(e, owners, sizeof owners), "k8s/c,docker/b,docker/a");

	/* Unlinking from the middle, the front and the back. */
	apply(f, "del docker/b tcp 0.0.0.0 80 80");
	assert_string_equal(endpoint_owners(e, owners, sizeof owners), "k8s/c,docker/a");
	apply(f, "add docker/b tcp 0.0.0.0 80 80");
	apply(f, "del docker/b tcp 0.0.0.0 80 80");
	assert_string_equal(endpoint_owners(e, owners, sizeof owners), "k8s/c,docker/a");
	apply(f, "del docker/a tcp 0.0.0.0 80 80");
	assert_string_equal(endpoint_owners(e, owners, sizeof owners), "k8s/c");

	/* A snapshot that drops a binding unlinks it as well. */
	apply(f, "add docker/d tcp 0.0.0.0 80 80");
	apply(f, "sync docker");
	apply(f, "done docker");
	assert_string_equal(endpoint_owners(e, owners, sizeof owners), "k8s/c");
	e = bt_find_endpoint(&f->table, PEV_TCP, &any, 81);
	assert_null(e);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(add_is_idempotent),
		TEST(del_is_idempotent),
		TEST(bindings_are_distinct),
		TEST(endpoint_reference_counts),
		TEST(snapshot_drops_keeps_adds),
		TEST(snapshot_source_prefix),
		TEST(snapshots_interleaved),
		TEST(snapshot_restarted),
		TEST(withdraw_all_closes),
		TEST(many_bindings_grow),
		TEST(binding_event_round_trip),
		TEST(endpoint_lists_its_bindings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
