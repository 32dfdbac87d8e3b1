/* libFuzzer target: registry JSON (manifests, indexes, image configs) and image
 * references, as src/image parses them from untrusted registries and users. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct manifest m;
	struct image_ref r;
	struct stk_err err;
	char *digest = NULL;

	if (manifest_parse((const char *)data, size, &m, &err) == 0) {
		/* the same bytes as the config: diff_ids must line up or fail cleanly */
		manifest_set_diffids(&m, (const char *)data, size, &err);
		manifest_free(&m);
	}
	if (manifest_index_pick((const char *)data, size, "amd64", NULL, &digest, &err) == 0)
		free(digest);
	if (size < 512 && image_ref_parse(text, &r, &err) == 0) {
		char *c = image_ref_canonical(&r), *f = image_ref_familiar_name(&r);

		free(c);
		free(f);
		image_ref_free(&r);
	}
	free(text);
	return 0;
}
