/* What exec, run and attach share: finding a service's container in the records, and
 * an environment with -e on top. */
#ifndef STK_CLI_EXEC_H
#define STK_CLI_EXEC_H

#include <stddef.h>

struct state_container;

/* The running (non one-off) container of service numbered index; prints Compose's
 * error ("service \"web\" is not running") and returns -1 when there is none. */
int cli_find_running(const struct state_container *v, size_t n, const char *service, long index,
		     const struct state_container **out);
/* base (NULL-terminated, may be NULL) with K=V entries set and bare K taken from the
 * CLI's environment (dropped when unset); a new NULL-terminated array. */
char **cli_env_merge(char *const *base, const char *const *extra, size_t nextra);
void cli_strv_free(char **v);

#endif
