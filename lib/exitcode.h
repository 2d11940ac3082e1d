/* Exit codes shared by every applet; each applet's manual repeats them. */
#ifndef RDAGENT_EXITCODE_H
#define RDAGENT_EXITCODE_H

enum {
	EXIT_OK = 0,          /* finished, including a clean end of input */
	EXIT_FAIL = 1,        /* permanent failure: bad config, protocol violation */
	EXIT_USAGE = 2,       /* invalid option or argument */
	EXIT_TEMPORARY = 111, /* temporary failure: peer gone, socket missing; retry later */
	EXIT_NOEXEC = 126,    /* applet found but could not be run */
	EXIT_NOTFOUND = 127,  /* no such applet */
};

#endif
