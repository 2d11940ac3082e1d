/* Event loop: epoll for descriptors, signalfd for signals, and one-shot
 * millisecond timers.  Every watch and timer is caller-owned memory that
 * must stay valid while it is registered; the loop allocates nothing.
 * The loop sleeps in epoll_wait until a descriptor is ready, a signal
 * arrives or the earliest timer is due, so an idle applet never wakes up. */
#ifndef RDAGENT_LOOP_H
#define RDAGENT_LOOP_H

#include <stdint.h>
#include <signal.h>

struct loop;
struct loop_watch;
struct loop_timer;

/* events is the epoll mask that was reported (EPOLLIN, EPOLLOUT, EPOLLHUP...). */
typedef void loop_fd_cb(struct loop *loop, struct loop_watch *watch, uint32_t events);
typedef void loop_timer_cb(struct loop *loop, struct loop_timer *timer);
typedef void loop_signal_cb(struct loop *loop, int signo, void *ctx);

struct loop_watch {
	int fd;
	uint32_t events;
	loop_fd_cb *cb;
	void *ctx;
	int registered;
};

struct loop_timer {
	uint64_t due_ms;          /* CLOCK_MONOTONIC milliseconds */
	loop_timer_cb *cb;
	void *ctx;
	struct loop_timer *prev, *next;
	int armed;
	int due;                  /* on the loop's list of timers being run */
};

#define LOOP_MAX_SIGNALS 8

struct loop {
	int epoll_fd;
	int signal_fd;
	sigset_t signals;
	struct {
		int signo;
		loop_signal_cb *cb;
		void *ctx;
	} handlers[LOOP_MAX_SIGNALS];
	unsigned handler_count;
	struct loop_timer *timers;   /* armed and not yet due */
	struct loop_timer *due;      /* due, waiting for their callback in this turn */
	int stopping;
	int exit_code;
	uint64_t wakeups;         /* epoll_wait returns, for benchmarks and tests */
	/* The batch being dispatched, so that loop_watch_remove can drop
	 * pending events of a watch whose memory the caller frees next. */
	void *batch;
	int batch_count;
};

/* Returns 0 or -errno. */
int loop_init(struct loop *loop);
void loop_free(struct loop *loop);

/* Registers watch->fd for events; returns 0 or -errno. */
int loop_watch_add(struct loop *loop, struct loop_watch *watch, int fd, uint32_t events,
		   loop_fd_cb *cb, void *ctx);
int loop_watch_modify(struct loop *loop, struct loop_watch *watch, uint32_t events);
/* Unregisters the watch; it does not close the descriptor.  Safe to call
 * from any callback and for a watch that is not registered; after it
 * returns, the caller may free the watch. */
void loop_watch_remove(struct loop *loop, struct loop_watch *watch);

/* Arms (or re-arms) a one-shot timer delay_ms from now. */
void loop_timer_start(struct loop *loop, struct loop_timer *timer, uint64_t delay_ms,
		      loop_timer_cb *cb, void *ctx);
void loop_timer_stop(struct loop *loop, struct loop_timer *timer);

/* Blocks signo and delivers it through the loop; returns 0 or -errno. */
int loop_signal(struct loop *loop, int signo, loop_signal_cb *cb, void *ctx);

/* Runs until loop_stop; returns the exit code passed to loop_stop, or
 * -errno when epoll_wait fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop, int exit_code);

#endif
