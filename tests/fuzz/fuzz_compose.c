/* libFuzzer target: bytes → YAML load → interpolate → canonicalise → extends → merge
 * (the input against itself) → normalise → validate → emit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/internal.h"

static const char *fuzz_lookup(void *ctx, const char *name)
{
	(void)ctx;
	if (name[0] && name[1] == '\0')
		return name[0] < 'M' ? "x" : "";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compose_options opt = {0};
	struct compose_diags diags = {0};
	struct diag_ctx dc = {.diags = &diags};
	struct load_ctx lc = {.dc = &dc, .opt = &opt, .workdir = (char *)"/fuzz"};
	struct node **docs = NULL, *tree = NULL;
	int n, i;
	size_t k;

	envset_set(&lc.env, "A", "1");
	n = compose_yaml_load(&dc, "/fuzz/compose.yaml", (const char *)data, size, &docs);
	for (i = 0; i < n; i++) {
		struct node *canon = NULL;

		if (docs[i]->kind == NODE_MAP) {
			compose_interpolate(&dc, docs[i], fuzz_lookup, NULL);
			canon = compose_canonicalize(&lc, docs[i], "/fuzz");
		}
		node_free(docs[i]);
		if (!canon)
			continue;
		if (tree) {
			compose_merge(tree, canon);
		} else {
			tree = canon;
			compose_merge(tree, node_copy(canon));
		}
	}
	free(docs);
	if (tree) {
		compose_apply_extends(&lc, tree, "/fuzz/compose.yaml");
		compose_normalize(&lc, tree, "fuzz");
		compose_validate(&lc, tree);
		free(compose_emit_yaml(tree));
		free(compose_emit_json(tree, false));
		node_free(tree);
	}
	envset_free(&lc.env);
	for (k = 0; k < lc.nprofiles; k++)
		free(lc.profiles[k]);
	free(lc.profiles);
	for (k = 0; k < dc.nfiles; k++)
		free(dc.files[k]);
	free(dc.files);
	compose_diags_free(&diags);
	return 0;
}
