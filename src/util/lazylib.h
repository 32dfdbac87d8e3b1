/* Libraries that only some commands use (libcurl, libarchive, libnl, libnftables, ldns)
 * are not linked: they are opened with dlopen the first time the program needs them, so
 * `stack version`, `stack config` and `stack runtime run` do not pay at every start for
 * mapping and relocating some fifty shared objects they never call (docs/build.md).
 *
 * Each such library has a header src/util/lazy_<lib>.h that includes the library's own
 * headers, lists the functions the project calls (an X-macro), declares a table of
 * pointers typed with __typeof__(&fn) so every call is still checked against the real
 * prototype, and redirects each name to its table entry. A source file includes that
 * header instead of the library's; its calls stay as they were. A function missing
 * from the list is an undefined reference at link time, never a silent miss. */
#ifndef STK_UTIL_LAZYLIB_H
#define STK_UTIL_LAZYLIB_H

struct stk_err;

struct stk_lazylib {
	const char *soname; /* found by configure from the library the linker would use */
	const char *package; /* the Debian package that ships it, for the error message */
	/* dlsym every listed function into the table; the name of a missing one, or NULL */
	const char *(*resolve)(void *handle);
	int loaded; /* read and written atomically; 1 once the table is complete */
	void *handle; /* dlopen's, once loaded */
};

/* Open the library and fill its table, once; later calls return 0 at once. Safe from any
 * thread. On failure: "cannot load libcurl.so.4 (install libcurl4): <why>", and -1. */
int stk_lazylib_load(struct stk_lazylib *lib, struct stk_err *err);

/* For a call that reached a library no stk_lazylib_load came before: load it, or print
 * the same message and exit(127) rather than call through a null pointer. Every module
 * loads its libraries where its work starts, so this is only a safety net. */
void stk_lazylib_load_or_die(struct stk_lazylib *lib);

/* For a long-lived, single-threaded caller (the supervisor between requests) that holds
 * no object of the library: close it, so its pages leave the process; the next call
 * loads it again. Nothing happens to a library that is not loaded. */
void stk_lazylib_unload(struct stk_lazylib *lib);

#define STK_LAZY_MEMBER_(fn) __typeof__(&fn) fn;
#define STK_LAZY_RESOLVE_(fn) \
	if (!(t->fn = (__typeof__(t->fn))dlsym(handle, #fn))) \
		return #fn;

/* In lazy_<lib>.h, before the redirections: the table and its accessor. */
#define STK_LAZYLIB_DECLARE(tag, LIST) \
	struct stk_lazy_##tag##_fns { \
		LIST(STK_LAZY_MEMBER_) \
	}; \
	extern struct stk_lazy_##tag##_fns stk_lazy_##tag##_table; \
	extern struct stk_lazylib stk_lazy_##tag##_lib; \
	static inline struct stk_lazy_##tag##_fns *stk_lazy_##tag(void) \
	{ \
		if (__builtin_expect(!__atomic_load_n(&stk_lazy_##tag##_lib.loaded, \
						      __ATOMIC_ACQUIRE), \
				     0)) \
			stk_lazylib_load_or_die(&stk_lazy_##tag##_lib); \
		return &stk_lazy_##tag##_table; \
	}

/* `#define fn STK_LAZY(tag, fn)`: a call to fn goes through the table. */
#define STK_LAZY(tag, fn) (stk_lazy_##tag()->fn)

/* In lazy_<lib>.c (which defines STK_LAZY_DEFINING before the include, so that the
 * names are not redirected there): the table, its resolver and the library record. */
#define STK_LAZYLIB_DEFINE(tag, LIST, soname_, package_) \
	struct stk_lazy_##tag##_fns stk_lazy_##tag##_table; \
	static const char *stk_lazy_##tag##_resolve(void *handle) \
	{ \
		struct stk_lazy_##tag##_fns *t = &stk_lazy_##tag##_table; \
		LIST(STK_LAZY_RESOLVE_) \
		return NULL; \
	} \
	struct stk_lazylib stk_lazy_##tag##_lib = {soname_, package_, stk_lazy_##tag##_resolve, 0, \
						   NULL};

#endif
