/* Merging canonical trees by the compose-spec merge rules (spec: merge.md): mappings
 * merge key by key, scalars are replaced, sequences are appended except where the
 * spec says otherwise, and !reset / !override decide for themselves. Both trees are
 * canonical already, so short syntax never needs handling here. */
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "util/str.h"

enum seq_rule { SEQ_APPEND, SEQ_REPLACE, SEQ_UNIQUE, SEQ_KEYED };

struct seq_merge {
	const char *attr;
	enum seq_rule rule;
	const char *const *keys; /* for SEQ_KEYED: the fields that identify an entry */
};

static const char *const port_keys[] = {"host_ip", "target", "published", "protocol", NULL};
static const char *const mount_keys[] = {"target", NULL};
static const char *const file_ref_keys[] = {"target", "source", NULL};
static const char *const device_keys[] = {"target", NULL};
static const char *const env_file_keys[] = {"path", NULL};

/* Service attributes that are not appended plainly. */
static const struct seq_merge service_rules[] = {
	{"command", SEQ_REPLACE, NULL},
	{"entrypoint", SEQ_REPLACE, NULL},
	{"ports", SEQ_KEYED, port_keys},
	{"volumes", SEQ_KEYED, mount_keys},
	{"secrets", SEQ_KEYED, file_ref_keys},
	{"configs", SEQ_KEYED, file_ref_keys},
	{"devices", SEQ_KEYED, device_keys},
	{"env_file", SEQ_KEYED, env_file_keys},
	{"expose", SEQ_UNIQUE, NULL},
	{"dns", SEQ_UNIQUE, NULL},
	{"dns_search", SEQ_UNIQUE, NULL},
	{"dns_opt", SEQ_UNIQUE, NULL},
	{"tmpfs", SEQ_UNIQUE, NULL},
	{"cap_add", SEQ_UNIQUE, NULL},
	{"cap_drop", SEQ_UNIQUE, NULL},
	{"security_opt", SEQ_UNIQUE, NULL},
	{"extra_hosts", SEQ_UNIQUE, NULL},
	{"external_links", SEQ_UNIQUE, NULL},
	{"links", SEQ_UNIQUE, NULL},
	{"profiles", SEQ_UNIQUE, NULL},
	{"group_add", SEQ_UNIQUE, NULL},
	{"volumes_from", SEQ_UNIQUE, NULL},
	{"aliases", SEQ_UNIQUE, NULL},
	{"test", SEQ_REPLACE, NULL},
	{"cache_from", SEQ_UNIQUE, NULL},
	{"cache_to", SEQ_UNIQUE, NULL},
	{"tags", SEQ_UNIQUE, NULL},
	{"platforms", SEQ_UNIQUE, NULL},
};

static bool node_equal(const struct node *a, const struct node *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	if (a->kind != b->kind || a->len != b->len)
		return false;
	if (a->kind == NODE_SCALAR)
		return a->stype == b->stype && strcmp(a->str, b->str) == 0;
	for (i = 0; i < a->len; i++) {
		if (a->kind == NODE_SEQ && !node_equal(a->items[i], b->items[i]))
			return false;
		if (a->kind == NODE_MAP && (strcmp(a->pairs[i].key, b->pairs[i].key) != 0 ||
					    !node_equal(a->pairs[i].value, b->pairs[i].value)))
			return false;
	}
	return true;
}

static bool same_entry(const struct node *a, const struct node *b, const char *const *keys)
{
	const struct node *ka, *kb;

	if (a->kind != NODE_MAP || b->kind != NODE_MAP)
		return node_equal(a, b);
	for (; *keys; keys++) {
		ka = node_map_get(a, *keys);
		kb = node_map_get(b, *keys);
		if (!ka && !kb)
			continue;
		if (!node_equal(ka, kb))
			return false;
	}
	return true;
}

static const struct seq_merge *rule_for(const char *attr)
{
	size_t i;

	if (!attr)
		return NULL;
	for (i = 0; i < sizeof(service_rules) / sizeof(service_rules[0]); i++)
		if (strcmp(service_rules[i].attr, attr) == 0)
			return &service_rules[i];
	return NULL;
}

/* What identifies an entry, as a string: equal strings ⇔ the entries match (node_equal
 * for SEQ_UNIQUE, same_entry for SEQ_KEYED). NULL when an entry has no such simple
 * identity (a mapping in a unique list, a mapping-valued key): those are compared one
 * by one. */
static char *entry_identity(const struct node *n, const struct seq_merge *r)
{
	struct strbuf sb = {0};
	const char *const *k;

	if (r->rule == SEQ_UNIQUE || n->kind != NODE_MAP) {
		if (n->kind != NODE_SCALAR)
			return NULL;
		strbuf_addf(&sb, "%d:%s", (int)n->stype, n->str);
		return strbuf_take(&sb);
	}
	for (k = r->keys; *k; k++) {
		const struct node *v = node_map_get(n, *k);

		if (!v)
			strbuf_adds(&sb, "\x02\x1f");
		else if (v->kind == NODE_SCALAR)
			strbuf_addf(&sb, "%d:%s\x1f", (int)v->stype, v->str);
		else {
			strbuf_free(&sb);
			return NULL;
		}
	}
	return strbuf_take(&sb);
}

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Entries of over replace the base entries they match and are appended otherwise.
 * An index by identity keeps this linear: a port range expands into thousands of
 * entries, and comparing every pair of them does not finish. */
static void merge_seq_matching(struct node *base, struct node *over, const struct seq_merge *r)
{
	size_t total = base->len + over->len, cap = 16, i, j;
	char **ids;
	size_t *slots;

	while (cap < total * 2)
		cap *= 2;
	ids = xcalloc(total, sizeof(*ids));
	slots = xcalloc(cap, sizeof(*slots)); /* index + 1 into base->items; 0 empty */
	for (j = 0; j < base->len; j++) {
		ids[j] = entry_identity(base->items[j], r);
		if (!ids[j])
			continue;
		for (i = hash_str(ids[j]) & (cap - 1); slots[i]; i = (i + 1) & (cap - 1))
			if (ids[slots[i] - 1] && !strcmp(ids[slots[i] - 1], ids[j]))
				break;
		if (!slots[i])
			slots[i] = j + 1;
	}
	for (i = 0; i < over->len; i++) {
		struct node *item = over->items[i];
		char *id = entry_identity(item, r);
		size_t at = (size_t)-1, h;

		if (id) {
			for (h = hash_str(id) & (cap - 1); slots[h]; h = (h + 1) & (cap - 1))
				if (!strcmp(ids[slots[h] - 1], id)) {
					at = slots[h] - 1;
					break;
				}
		} else {
			for (j = 0; j < base->len && at == (size_t)-1; j++)
				if (!ids[j] &&
				    (r->rule == SEQ_UNIQUE
					     ? node_equal(base->items[j], item)
					     : same_entry(base->items[j], item, r->keys)))
					at = j;
		}
		if (at != (size_t)-1) {
			node_free(base->items[at]);
			base->items[at] = item;
			free(id);
			continue;
		}
		ids[base->len] = id;
		if (id)
			slots[h] = base->len + 1;
		node_seq_push(base, item);
	}
	for (j = 0; j < base->len; j++)
		free(ids[j]);
	free(ids);
	free(slots);
}

static void merge_seq(struct node *base, struct node *over, const char *attr)
{
	const struct seq_merge *r = rule_for(attr);
	size_t i;

	if (r && r->rule == SEQ_REPLACE) {
		for (i = 0; i < base->len; i++)
			node_free(base->items[i]);
		free(base->items);
		base->items = over->items;
		base->len = over->len;
		base->cap = over->cap;
		over->items = NULL;
		over->len = over->cap = 0;
		node_free(over);
		return;
	}
	if (!r || r->rule == SEQ_APPEND) {
		for (i = 0; i < over->len; i++)
			node_seq_push(base, over->items[i]);
	} else {
		merge_seq_matching(base, over, r);
	}
	free(over->items);
	over->items = NULL;
	over->len = over->cap = 0;
	node_free(over);
}

/* Merge over into *slot (which may be NULL); consumes over. */
static void merge_into(struct node **slot, struct node *over, const char *attr)
{
	struct node *base = *slot;
	size_t i;

	if (over->tag_override || !base || base->kind != over->kind || over->kind == NODE_SCALAR) {
		node_free(base);
		over->tag_override = false;
		*slot = over;
		return;
	}
	if (over->kind == NODE_SEQ) {
		merge_seq(base, over, attr);
		return;
	}
	base->partial |= over->partial;
	for (i = 0; i < over->len; i++) {
		struct node_pair *op = &over->pairs[i];
		struct node_pair *bp = node_map_find(base, op->key);

		if (op->value->tag_reset) {
			node_map_del(base, op->key);
			continue;
		}
		if (!bp) {
			node_map_set_at(base, op->key, op->kpos, op->value);
		} else {
			merge_into(&bp->value, op->value, op->key);
		}
		op->value = NULL;
	}
	node_free(over);
}

void compose_merge(struct node *base, struct node *override)
{
	size_t i;

	/* the top level is never replaced wholesale */
	for (i = 0; i < override->len; i++) {
		struct node_pair *op = &override->pairs[i];
		struct node_pair *bp = node_map_find(base, op->key);
		struct node *v = op->value;

		op->value = NULL;
		if (v->tag_reset) {
			node_map_del(base, op->key);
			node_free(v);
		} else if (!bp) {
			node_map_set_at(base, op->key, op->kpos, v);
		} else {
			merge_into(&bp->value, v, op->key);
		}
	}
	node_free(override);
}
