/* Private to the engine: what seccomp.c and seccomp_json.c share. */
#ifndef STK_ENGINE_SECCOMP_H
#define STK_ENGINE_SECCOMP_H

#include <seccomp.h>

#include "engine/engine.h"

/* Add a rule by syscall name; names unknown to this libseccomp or ABI are skipped. */
int seccomp_add(scmp_filter_ctx ctx, const char *name, uint32_t action, unsigned nargs,
		const struct scmp_arg_cmp *args, struct stk_err *err);
/* Native x86_64 plus the x86 and x32 ABIs, as Docker's archMap for amd64. */
int seccomp_add_arches(scmp_filter_ctx ctx, struct stk_err *err);
/* Build a filter from the text of a Docker seccomp profile (JSON). */
int seccomp_json_parse(const char *text, uint64_t caps, scmp_filter_ctx *out, struct stk_err *err);

#endif
