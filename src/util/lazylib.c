/* The loader behind src/util/lazy_<lib>.h: dlopen by SONAME on first use, resolve the
 * listed functions, and say which Debian package to install when that fails. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/err.h"
#include "util/lazylib.h"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_locked(struct stk_lazylib *lib, struct stk_err *err)
{
	const char *missing;
	void *h;

	/* RTLD_NOW: a library that lacks a symbol it needs fails here, not mid-pull.
	 * RTLD_LOCAL: its names stay out of the global scope, as they would if linked. */
	h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return stk_err_set(err, ELIBACC, "cannot load %s (install %s): %s", lib->soname,
				   lib->package, dlerror());
	missing = lib->resolve(h);
	if (missing) {
		/* The partly filled table is never used (loaded stays 0); the handle is left
		 * open, as closing a library whose constructors ran gains nothing. */
		return stk_err_set(err, ELIBBAD,
				   "cannot load %s (install %s): no function %s in %s", lib->soname,
				   lib->package, missing, lib->soname);
	}
	lib->handle = h;
	__atomic_store_n(&lib->loaded, 1, __ATOMIC_RELEASE);
	return 0;
}

int stk_lazylib_load(struct stk_lazylib *lib, struct stk_err *err)
{
	int rc = 0;

	if (__atomic_load_n(&lib->loaded, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&load_lock);
	if (!lib->loaded)
		rc = load_locked(lib, err);
	pthread_mutex_unlock(&load_lock);
	return rc;
}

void stk_lazylib_unload(struct stk_lazylib *lib)
{
	pthread_mutex_lock(&load_lock);
	if (lib->loaded && lib->handle) {
		__atomic_store_n(&lib->loaded, 0, __ATOMIC_RELEASE);
		dlclose(lib->handle);
		lib->handle = NULL;
	}
	pthread_mutex_unlock(&load_lock);
}

void stk_lazylib_load_or_die(struct stk_lazylib *lib)
{
	struct stk_err err = {0};

	if (stk_lazylib_load(lib, &err) == 0)
		return;
	fprintf(stderr, "stack: %s\n", err.msg);
	exit(127);
}
