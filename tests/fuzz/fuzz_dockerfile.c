/* libFuzzer target: Dockerfiles as a build context carries them, through df_parse, then
 * every raw word of every instruction through df_word and df_words. Nothing may crash
 * or leak; a parse that fails must say where. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(const char *name, void *arg)
{
	(void)arg;
	return strlen(name) % 2 ? "x y" : NULL;
}

static void expand_all(const struct df_instr *in, char esc)
{
	struct stk_err err;
	size_t i, n;
	char *w, **ws;

	for (i = 0; i < in->nargs; i++) {
		if (df_word(in->args[i], esc, lookup, NULL, &w, &err) == 0)
			free(w);
		if (df_words(in->args[i], esc, lookup, NULL, &ws, &n, &err) == 0)
			df_strv_free(ws, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockerfile df;
	struct stk_err err;
	size_t i, j;

	stk_err_clear(&err);
	if (df_parse("Dockerfile", (const char *)data, size, &df, &err) < 0) {
		if (strncmp(err.msg, "Dockerfile", 10) != 0)
			abort();
		return 0;
	}
	for (i = 0; i < df.nmeta_args; i++)
		expand_all(&df.meta_args[i], df.escape);
	for (i = 0; i < df.nstages; i++)
		for (j = 0; j < df.stages[i].n; j++)
			expand_all(&df.stages[i].v[j], df.escape);
	df_free(&df);
	return 0;
}
