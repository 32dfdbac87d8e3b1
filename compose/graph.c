/* The depends_on DAG: start order, stop order, cycles, and the set of services a
 * command touches. Depth-first search over the canonical services mapping, whose
 * depends_on is always a mapping of service name → condition. */
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/graph.h"
#include "util/str.h"

enum mark { WHITE, GREY, BLACK };

struct walk {
	const struct node *services;
	enum mark *mark;
	size_t *order, n;
	size_t *stack, depth;
	char *cycle;
};

static int index_of(const struct node *services, const char *name)
{
	size_t i;

	for (i = 0; i < services->len; i++)
		if (!strcmp(services->pairs[i].key, name))
			return (int)i;
	return -1;
}

static void describe_cycle(struct walk *w, size_t back_to)
{
	struct strbuf sb = {0};
	size_t i, start = 0;

	for (i = 0; i < w->depth; i++)
		if (w->stack[i] == back_to)
			start = i;
	for (i = start; i < w->depth; i++)
		strbuf_addf(&sb, "%s -> ", w->services->pairs[w->stack[i]].key);
	strbuf_adds(&sb, w->services->pairs[back_to].key);
	w->cycle = strbuf_take(&sb);
}

static int visit(struct walk *w, size_t i)
{
	const struct node *deps;
	size_t k;

	if (w->mark[i] == BLACK)
		return 0;
	if (w->mark[i] == GREY) {
		describe_cycle(w, i);
		return -1;
	}
	w->mark[i] = GREY;
	w->stack[w->depth++] = i;
	deps = node_map_get(w->services->pairs[i].value, "depends_on");
	for (k = 0; deps && deps->kind == NODE_MAP && k < deps->len; k++) {
		int d = index_of(w->services, deps->pairs[k].key);

		if (d >= 0 && visit(w, (size_t)d) < 0)
			return -1;
	}
	w->depth--;
	w->mark[i] = BLACK;
	w->order[w->n++] = i;
	return 0;
}

int graph_start_order(const struct node *services, size_t *order, char **cycle)
{
	struct walk w = {services, xcalloc(services->len, sizeof(enum mark)),  order,
			 0,	   xcalloc(services->len + 1, sizeof(size_t)), 0,
			 NULL};
	size_t i;
	int rc = 0;

	*cycle = NULL;
	for (i = 0; i < services->len && rc == 0; i++)
		rc = visit(&w, i);
	free(w.mark);
	free(w.stack);
	*cycle = w.cycle;
	return rc;
}

void compose_start_order(const struct compose_project *p, size_t *order)
{
	const struct node *services = node_map_get(p->tree, "services");
	char *cycle = NULL;

	/* validation refused cycles, so this cannot fail on a loaded project */
	if (graph_start_order(services, order, &cycle) < 0) {
		for (size_t i = 0; i < p->nservices; i++)
			order[i] = i;
	}
	free(cycle);
}
