/* see lib/loop.h */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"

int loop_init(struct loop *loop)
{
	memset(loop, 0, sizeof *loop);
	loop->signal_fd = -1;
	sigemptyset(&loop->signals);
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epoll_fd < 0 ? -errno : 0;
}

void loop_free(struct loop *loop)
{
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	loop->epoll_fd = loop->signal_fd = -1;
}

int loop_watch_add(struct loop *loop, struct loop_watch *watch, int fd, uint32_t events,
		   loop_fd_cb *cb, void *ctx)
{
	struct epoll_event ev = { .events = events, .data.ptr = watch };

	watch->fd = fd;
	watch->events = events;
	watch->cb = cb;
	watch->ctx = ctx;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	watch->registered = 1;
	return 0;
}

int loop_watch_modify(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = watch };

	if (watch->events == events)
		return 0;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, watch->fd, &ev) < 0)
		return -errno;
	watch->events = events;
	return 0;
}

void loop_watch_remove(struct loop *loop, struct loop_watch *watch)
{
	if (!watch->registered)
		return;
	struct epoll_event *batch = loop->batch;

	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, watch->fd, NULL);
	watch->registered = 0;
	for (int i = 0; i < loop->batch_count; i++)
		if (batch[i].data.ptr == watch)
			batch[i].data.ptr = &loop->batch;
}

void loop_timer_start(struct loop *loop, struct loop_timer *timer, uint64_t delay_ms,
		      loop_timer_cb *cb, void *ctx)
{
	loop_timer_stop(loop, timer);
	timer->due_ms = clock_ms() + delay_ms;
	timer->cb = cb;
	timer->ctx = ctx;
	timer->prev = NULL;
	timer->next = loop->timers;
	if (loop->timers)
		loop->timers->prev = timer;
	loop->timers = timer;
	timer->armed = 1;
	timer->due = 0;
}

void loop_timer_stop(struct loop *loop, struct loop_timer *timer)
{
	struct loop_timer **head;

	if (!timer->armed)
		return;
	head = timer->due ? &loop->due : &loop->timers;
	if (timer->prev)
		timer->prev->next = timer->next;
	else
		*head = timer->next;
	if (timer->next)
		timer->next->prev = timer->prev;
	timer->prev = timer->next = NULL;
	timer->armed = 0;
	timer->due = 0;
}

int loop_signal(struct loop *loop, int signo, loop_signal_cb *cb, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int fd;

	if (loop->handler_count == LOOP_MAX_SIGNALS)
		return -ENOSPC;
	sigaddset(&loop->signals, signo);
	if (sigprocmask(SIG_BLOCK, &loop->signals, NULL) < 0)
		return -errno;
	fd = signalfd(loop->signal_fd, &loop->signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (loop->signal_fd < 0) {
		loop->signal_fd = fd;
		/* data.ptr NULL marks the signal descriptor. */
		if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
	loop->handlers[loop->handler_count].signo = signo;
	loop->handlers[loop->handler_count].cb = cb;
	loop->handlers[loop->handler_count].ctx = ctx;
	loop->handler_count++;
	return 0;
}

static void dispatch_signals(struct loop *loop)
{
	struct signalfd_siginfo si;

	while (read(loop->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		for (unsigned i = 0; i < loop->handler_count; i++)
			if (loop->handlers[i].signo == (int)si.ssi_signo)
				loop->handlers[i].cb(loop, (int)si.ssi_signo, loop->handlers[i].ctx);
	}
}

/* Runs every due timer; returns the milliseconds until the next one, or -1.
 * Due timers move to loop->due first, so one pass is linear in the number
 * of timers even when callbacks stop, re-arm or free other timers:
 * loop_timer_stop takes a timer off whichever list holds it. */
static int run_timers(struct loop *loop)
{
	uint64_t now = clock_ms();
	struct loop_timer *t, *next;
	uint64_t earliest = UINT64_MAX;

	for (t = loop->timers; t; t = next) {
		next = t->next;
		if (t->due_ms > now)
			continue;
		if (t->prev)
			t->prev->next = t->next;
		else
			loop->timers = t->next;
		if (t->next)
			t->next->prev = t->prev;
		t->prev = NULL;
		t->next = loop->due;
		if (loop->due)
			loop->due->prev = t;
		loop->due = t;
		t->due = 1;
	}
	while ((t = loop->due)) {
		loop_timer_stop(loop, t);
		t->cb(loop, t);
		if (loop->stopping)
			return 0;
	}
	for (t = loop->timers; t; t = t->next)
		if (t->due_ms < earliest)
			earliest = t->due_ms;
	if (earliest == UINT64_MAX)
		return -1;
	now = clock_ms();
	if (earliest <= now)
		return 0;
	return earliest - now > 0x7fffffff ? 0x7fffffff : (int)(earliest - now);
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[32];

	while (!loop->stopping) {
		int timeout = run_timers(loop);
		int n;

		if (loop->stopping)
			break;
		n = epoll_wait(loop->epoll_fd, events, 32, timeout);
		loop->wakeups++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		loop->batch = events;
		loop->batch_count = n;
		for (int i = 0; i < n && !loop->stopping; i++) {
			struct loop_watch *w = events[i].data.ptr;

			if (!w) {
				dispatch_signals(loop);
				continue;
			}
			/* &loop->batch marks a watch removed earlier in this batch. */
			if (w == (void *)&loop->batch)
				continue;
			w->cb(loop, w, events[i].events);
		}
		loop->batch_count = 0;
	}
	return loop->exit_code;
}

void loop_stop(struct loop *loop, int exit_code)
{
	loop->stopping = 1;
	loop->exit_code = exit_code;
}
