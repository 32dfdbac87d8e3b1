/* `stack net-plumbing serve PROJECT`: runs the network runtime (DNS, port proxies) in
 * the foreground until SIGTERM or SIGINT; SIGHUP re-reads the record. What the
 * supervisor will do inside its own loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "net/net.h"

int cli_net_plumbing_serve(struct cli_globals *g, int argc, char **argv)
{
	cli_error("net-plumbing serve: not built yet");
	return CLI_FAIL;
}
