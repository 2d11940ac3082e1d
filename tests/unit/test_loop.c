/* Unit tests for lib/loop: timers and signals. */
#include "unit.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

#define MANY 20000

struct fired {
	struct loop_timer timers[MANY];
	unsigned count;
	unsigned order[4];
	int stop_other;              /* the first of timers 0 and 1 to run stops the other */
};

static struct fired fired;

static void record(struct loop *loop, struct loop_timer *t)
{
	unsigned index = (unsigned)(t - fired.timers);

	if (fired.count < 4)
		fired.order[fired.count] = index;
	fired.count++;
	if (fired.stop_other && index < 2) {
		loop_timer_stop(loop, &fired.timers[1 - index]);
		fired.stop_other = 0;
	}
}

static void stop_loop(struct loop *loop, struct loop_timer *t)
{
	(void)t;
	loop_stop(loop, 7);
}

static void timers_fire_by_due_time(void **state)
{
	struct loop loop;
	struct loop_timer end = { 0 };

	(void)state;
	memset(&fired, 0, sizeof fired);
	assert_int_equal(loop_init(&loop), 0);
	loop_timer_start(&loop, &fired.timers[0], 30, record, NULL);
	loop_timer_start(&loop, &fired.timers[1], 10, record, NULL);
	loop_timer_start(&loop, &fired.timers[2], 20, record, NULL);
	loop_timer_start(&loop, &end, 60, stop_loop, NULL);
	assert_int_equal(loop_run(&loop), 7);
	assert_int_equal(fired.count, 3);
	assert_int_equal(fired.order[0], 1);
	assert_int_equal(fired.order[1], 2);
	assert_int_equal(fired.order[2], 0);
	loop_free(&loop);
}

/* A callback may stop another timer that is due in the same turn; the
 * stopped one must not run. */
static void stopped_due_timer_does_not_run(void **state)
{
	struct loop loop;
	struct loop_timer end = { 0 };

	(void)state;
	memset(&fired, 0, sizeof fired);
	assert_int_equal(loop_init(&loop), 0);
	loop_timer_start(&loop, &fired.timers[0], 0, record, NULL);
	loop_timer_start(&loop, &fired.timers[1], 0, record, NULL);
	fired.stop_other = 1;
	loop_timer_start(&loop, &end, 20, stop_loop, NULL);
	assert_int_equal(loop_run(&loop), 7);
	assert_int_equal(fired.count, 1);
	assert_false(fired.timers[0].armed);
	assert_false(fired.timers[1].armed);
	loop_free(&loop);
}

static void rearm(struct loop *loop, struct loop_timer *t)
{
	if (++fired.count < 5)
		loop_timer_start(loop, t, 0, rearm, NULL);
}

static void timer_rearms_itself(void **state)
{
	struct loop loop;
	struct loop_timer end = { 0 };

	(void)state;
	memset(&fired, 0, sizeof fired);
	assert_int_equal(loop_init(&loop), 0);
	loop_timer_start(&loop, &fired.timers[0], 0, rearm, NULL);
	loop_timer_start(&loop, &end, 50, stop_loop, NULL);
	assert_int_equal(loop_run(&loop), 7);
	assert_int_equal(fired.count, 5);
	loop_free(&loop);
}

/* Many timers due together all run, each once. */
static void many_due_timers_run_once(void **state)
{
	struct loop loop;
	struct loop_timer end = { 0 };

	(void)state;
	memset(&fired, 0, sizeof fired);
	assert_int_equal(loop_init(&loop), 0);
	for (unsigned i = 0; i < MANY; i++)
		loop_timer_start(&loop, &fired.timers[i], 1, record, NULL);
	loop_timer_start(&loop, &end, 100, stop_loop, NULL);
	assert_int_equal(loop_run(&loop), 7);
	assert_int_equal(fired.count, MANY);
	for (unsigned i = 0; i < MANY; i++)
		assert_false(fired.timers[i].armed);
	loop_free(&loop);
}

static void on_usr2(struct loop *loop, int signo, void *ctx)
{
	*(int *)ctx = signo;
	loop_stop(loop, 3);
}

static void signal_arrives_through_loop(void **state)
{
	struct loop loop;
	int got = 0;
	sigset_t old;

	(void)state;
	sigprocmask(SIG_SETMASK, NULL, &old);
	assert_int_equal(loop_init(&loop), 0);
	assert_int_equal(loop_signal(&loop, SIGUSR2, on_usr2, &got), 0);
	raise(SIGUSR2);
	assert_int_equal(loop_run(&loop), 3);
	assert_int_equal(got, SIGUSR2);
	loop_free(&loop);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_by_due_time),
		cmocka_unit_test(stopped_due_timer_does_not_run),
		cmocka_unit_test(timer_rearms_itself),
		cmocka_unit_test(many_due_timers_run_once),
		cmocka_unit_test(signal_arrives_through_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
