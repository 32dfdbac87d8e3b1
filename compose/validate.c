/* Placeholder until validation lands. */
#include "compose/internal.h"

void compose_validate(struct load_ctx *lc, struct node *tree)
{
	(void)lc;
	(void)tree;
}
