/* Canonical tree → typed model. */
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/internal.h"
#include "util/str.h"

void compose_decode(struct compose_project *p)
{
	(void)p;
}

int compose_service_index(const struct compose_project *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nservices; i++)
		if (strcmp(p->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

void compose_project_free(struct compose_project *p)
{
	size_t i;

	if (!p)
		return;
	free(p->name);
	free(p->workdir);
	for (i = 0; i < p->files.n; i++)
		free(p->files.v[i]);
	free(p->files.v);
	node_free(p->tree);
	for (i = 0; i < p->pos_files.n; i++)
		free(p->pos_files.v[i]);
	free(p->pos_files.v);
	free(p);
}
