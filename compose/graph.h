/* The depends_on graph. Private to compose/; commands reach it through compose.h. */
#ifndef STK_COMPOSE_GRAPH_H
#define STK_COMPOSE_GRAPH_H

#include "compose/node.h"

/* Services in start order (dependencies first; ties by name). On a cycle returns -1
 * and *cycle describes it ("a -> b -> a"). order gets indexes into services->pairs. */
int graph_start_order(const struct node *services, size_t *order, char **cycle);

#endif
