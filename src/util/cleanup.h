/* Scope-bound cleanup, as crun and systemd do it, so early returns cannot leak. */
#ifndef STK_UTIL_CLEANUP_H
#define STK_UTIL_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void stk_freep(void *p)
{
	free(*(void **)p);
}

static inline void stk_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void stk_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(stk_freep)
#define _cleanup_close_ _cleanup_(stk_closep)
#define _cleanup_fclose_ _cleanup_(stk_fclosep)

/* Hand ownership on: returns the pointer and clears the owner's variable. */
static inline void *stk_steal_ptr(void *pp)
{
	void **p = pp;
	void *v = *p;

	*p = NULL;
	return v;
}
#define steal(pp) stk_steal_ptr(pp)

static inline int stk_steal_fd(int *fd)
{
	int v = *fd;

	*fd = -1;
	return v;
}

#endif
