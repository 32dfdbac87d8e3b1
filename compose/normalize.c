/* Placeholder until normalisation lands. */
#include "compose/internal.h"

void compose_normalize(struct load_ctx *lc, struct node *tree, const char *project_name)
{
	(void)lc;
	(void)tree;
	(void)project_name;
}
