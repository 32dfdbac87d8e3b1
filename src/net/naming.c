/* Kernel object names. Interface names must fit IFNAMSIZ (15 chars + NUL), so they are a
 * fixed prefix plus 8 hex digits of a hash of what the object belongs to. */
#include <stdio.h>

#include "net/internal.h"

/* FNV-1a over both strings with a separator, so ("ab","c") != ("a","bc"). */
uint32_t net_hash(const char *a, const char *b)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)a; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (p = (const unsigned char *)b; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

void net_bridge_name(const char *project, const char *network, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, "stk-%08x", net_hash(project, network));
}

void net_veth_name(const char *container, const char *network, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, "stv-%08x", net_hash(container, network));
}
