/* Placeholder until extends lands. */
#include "compose/internal.h"

void compose_apply_extends(struct load_ctx *lc, struct node *tree, const char *file)
{
	(void)lc;
	(void)tree;
	(void)file;
}
