/* One error type for the whole program: a message built up with context as it
 * travels from where something failed to the command that reports it, plus the
 * errno of the root cause (0 when there is none). */
#ifndef STK_UTIL_ERR_H
#define STK_UTIL_ERR_H

#include <stddef.h>

#define STK_ERR_MAX 2048

struct stk_err {
	int errnum;
	char msg[STK_ERR_MAX];
};

/* Set the error; returns -1 so callers can `return stk_err_set(...)`. */
int stk_err_set(struct stk_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set the error from errno with a message; the strerror text is appended. */
int stk_err_sys(struct stk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix context: "ctx: previous message". Returns -1. */
int stk_err_wrap(struct stk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void stk_err_clear(struct stk_err *err);

#endif
