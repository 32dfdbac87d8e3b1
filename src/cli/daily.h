/* Helpers shared by the daily commands (cp, top, stats, events, images): a project's
 * recorded containers, picked by service, and an engine handle on a running one. */
#ifndef STK_CLI_DAILY_H
#define STK_CLI_DAILY_H

#include <stdbool.h>
#include <stddef.h>

#include "state/state.h"

struct cli_globals;
struct engine_container;
struct stk_err;

struct daily_set {
	char *project;
	struct state_paths paths;
	struct state_container *v; /* every recorded container of the project */
	size_t n;
};

/* Load the project, check the named services exist ("no such service: x"), list its
 * containers. -1 after reporting. */
int daily_load(struct cli_globals *g, char **services, size_t nservices, struct daily_set *out);
void daily_release(struct daily_set *s);
/* Does c belong to one of the services (none named: every one)? */
bool daily_wanted(const struct state_container *c, char **services, size_t nservices);
/* An engine handle on the running container c. */
int daily_open(const struct state_container *c, struct engine_container **out, struct stk_err *err);

/* One row of a table as Go's tabwriter pads it (Docker's tables): each cell but the last
 * left-aligned in its column's width. */
void daily_print_row(const char *const *cells, const size_t *widths, size_t n);

#endif
