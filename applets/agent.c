/* usage: agent [OPTIONS]
 *
 * Runs port-event sources and sinks as child processes joined by pipes and
 * keeps them alive.  Not built yet: this placeholder exits 1.
 */
#include "applet.h"

int agent_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	error("the agent applet is not built yet; run the applets directly, e.g. 'ipt-scan | listen-hold'");
	return EXIT_FAIL;
}
