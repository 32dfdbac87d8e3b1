/* YAML text → node tree. libyaml parses; this file keeps positions, expands aliases,
 * applies merge keys (`<<`), reads Compose's !reset and !override tags, and rejects
 * duplicate keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "compose/node.h"
#include "util/str.h"

/* Alias expansion copies nodes; a document that would grow past this is refused, so
 * that "billion laughs" files fail quickly instead of exhausting memory. */
#define LOAD_NODE_BUDGET 2000000

struct anchor {
	char *name;
	struct node *node; /* owned: a private copy */
};

struct loader {
	struct diag_ctx *dc;
	yaml_parser_t parser;
	const char *file;
	struct anchor *anchors;
	size_t nanchors;
	size_t budget;
	bool failed;
};

static struct node_pos mark_pos(struct loader *ld, yaml_mark_t m)
{
	return (struct node_pos){ld->file, (int)m.line + 1, (int)m.column + 1};
}

static size_t node_count(const struct node *n)
{
	size_t c = 1, i;

	if (n->kind == NODE_SEQ)
		for (i = 0; i < n->len; i++)
			c += node_count(n->items[i]);
	if (n->kind == NODE_MAP)
		for (i = 0; i < n->len; i++)
			c += node_count(n->pairs[i].value);
	return c;
}

static bool spend(struct loader *ld, size_t n, struct node_pos pos)
{
	if (n > ld->budget) {
		if (!ld->failed)
			diag_error(ld->dc, pos, "document too large after alias expansion");
		ld->failed = true;
		ld->budget = 0;
		return false;
	}
	ld->budget -= n;
	return true;
}

static void anchor_define(struct loader *ld, const char *name, const struct node *n)
{
	size_t i;

	for (i = 0; i < ld->nanchors; i++) {
		if (strcmp(ld->anchors[i].name, name) == 0) {
			node_free(ld->anchors[i].node);
			ld->anchors[i].node = node_copy(n);
			return;
		}
	}
	ld->anchors = xrealloc(ld->anchors, (ld->nanchors + 1) * sizeof(*ld->anchors));
	ld->anchors[ld->nanchors].name = xstrdup(name);
	ld->anchors[ld->nanchors].node = node_copy(n);
	ld->nanchors++;
}

static const struct node *anchor_find(struct loader *ld, const char *name)
{
	size_t i;

	for (i = ld->nanchors; i-- > 0;)
		if (strcmp(ld->anchors[i].name, name) == 0)
			return ld->anchors[i].node;
	return NULL;
}

static void set_tag(struct loader *ld, struct node *n, const yaml_char_t *tag)
{
	if (!tag)
		return;
	if (strcmp((const char *)tag, "!reset") == 0)
		n->tag_reset = true;
	else if (strcmp((const char *)tag, "!override") == 0)
		n->tag_override = true;
}

static struct node *parse_node(struct loader *ld, yaml_event_t *ev);

static bool next_event(struct loader *ld, yaml_event_t *ev)
{
	/* After an error libyaml keeps answering "no event": that is the end too. */
	if (yaml_parser_parse(&ld->parser, ev)) {
		if (ev->type != YAML_NO_EVENT)
			return true;
		ld->failed = true;
		return false;
	}
	diag_error(ld->dc,
		   (struct node_pos){ld->file, (int)ld->parser.problem_mark.line + 1,
				     (int)ld->parser.problem_mark.column + 1},
		   "invalid YAML: %s%s%s", ld->parser.problem ? ld->parser.problem : "syntax error",
		   ld->parser.context ? " " : "", ld->parser.context ? ld->parser.context : "");
	ld->failed = true;
	return false;
}

/* Merge key: keys from the merged mapping(s) that the mapping does not set itself.
 * In a list of mappings, earlier ones win (YAML merge key spec). */
static void apply_merge(struct loader *ld, struct node *map, struct node *src)
{
	size_t i, j;

	if (src->kind == NODE_MAP) {
		for (j = 0; j < src->len; j++)
			if (!node_map_find(map, src->pairs[j].key))
				node_map_set_at(map, src->pairs[j].key, src->pairs[j].kpos,
						node_copy(src->pairs[j].value));
		return;
	}
	if (src->kind == NODE_SEQ) {
		for (i = 0; i < src->len; i++) {
			if (src->items[i]->kind != NODE_MAP) {
				diag_error(ld->dc, src->items[i]->pos,
					   "merge key \"<<\" needs a mapping or a list of mappings");
				continue;
			}
			apply_merge(ld, map, src->items[i]);
		}
		return;
	}
	diag_error(ld->dc, src->pos, "merge key \"<<\" needs a mapping or a list of mappings");
}

static const struct node *sort_map;

static int cmp_key_then_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_map->pairs[x].key, sort_map->pairs[y].key);

	return c ? c : (x > y) - (x < y);
}

static int cmp_index(const void *a, const void *b)
{
	const size_t *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* A key given twice is an error. Sorting keeps this linearithmic for mappings with
 * thousands of keys (generated services). */
static void report_duplicates(struct loader *ld, const struct node *map)
{
	size_t *idx, (*dups)[2], ndups = 0, i;

	if (map->len < 2)
		return;
	idx = xcalloc(map->len, sizeof(*idx));
	dups = xcalloc(map->len, sizeof(*dups));
	for (i = 0; i < map->len; i++)
		idx[i] = i;
	sort_map = map;
	qsort(idx, map->len, sizeof(*idx), cmp_key_then_index);
	for (i = 1; i < map->len; i++) {
		size_t first = i;

		while (first > 0 && !strcmp(map->pairs[idx[first - 1]].key, map->pairs[idx[i]].key))
			first--;
		if (first != i) {
			dups[ndups][0] = idx[i];
			dups[ndups++][1] = idx[first];
		}
	}
	qsort(dups, ndups, sizeof(*dups), cmp_index);
	for (i = 0; i < ndups; i++)
		diag_error(ld->dc, map->pairs[dups[i][0]].kpos,
			   "duplicate key \"%s\" (first defined at line %d)",
			   map->pairs[dups[i][0]].key, map->pairs[dups[i][1]].kpos.line);
	free(idx);
	free(dups);
}

static struct node *parse_mapping(struct loader *ld, yaml_event_t *start)
{
	struct node *map = node_new(NODE_MAP, mark_pos(ld, start->start_mark));
	struct node **merges = NULL;
	size_t nmerges = 0, i;
	yaml_event_t ev;

	set_tag(ld, map, start->data.mapping_start.tag);
	for (;;) {
		struct node *key, *value;

		if (!next_event(ld, &ev))
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		key = parse_node(ld, &ev);
		if (!key)
			goto fail;
		if (!next_event(ld, &ev)) {
			node_free(key);
			goto fail;
		}
		value = parse_node(ld, &ev);
		if (!value) {
			node_free(key);
			goto fail;
		}
		if (key->kind != NODE_SCALAR) {
			diag_error(ld->dc, key->pos, "mapping keys must be strings, not %s",
				   node_kind_name(key));
			node_free(key);
			node_free(value);
			continue;
		}
		if (strcmp(key->str, "<<") == 0) {
			merges = xrealloc(merges, (nmerges + 1) * sizeof(*merges));
			merges[nmerges++] = value;
			node_free(key);
			continue;
		}
		node_map_append(map, key->str, key->pos, value);
		node_free(key);
	}
	report_duplicates(ld, map);
	for (i = 0; i < nmerges; i++) {
		apply_merge(ld, map, merges[i]);
		node_free(merges[i]);
	}
	free(merges);
	return map;
fail:
	for (i = 0; i < nmerges; i++)
		node_free(merges[i]);
	free(merges);
	node_free(map);
	return NULL;
}

static struct node *parse_sequence(struct loader *ld, yaml_event_t *start)
{
	struct node *seq = node_new(NODE_SEQ, mark_pos(ld, start->start_mark));
	yaml_event_t ev;

	set_tag(ld, seq, start->data.sequence_start.tag);
	for (;;) {
		struct node *item;

		if (!next_event(ld, &ev)) {
			node_free(seq);
			return NULL;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return seq;
		}
		item = parse_node(ld, &ev);
		if (!item) {
			node_free(seq);
			return NULL;
		}
		node_seq_push(seq, item);
	}
}

static struct node *parse_scalar(struct loader *ld, yaml_event_t *ev)
{
	struct node_pos pos = mark_pos(ld, ev->start_mark);
	const char *text = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	struct node *n = node_new(NODE_SCALAR, pos);

	n->str = xstrndup(text, ev->data.scalar.length);
	if (ev->data.scalar.plain_implicit && !tag)
		n->stype = scalar_resolve(n->str);
	else if (tag && strcmp(tag, "tag:yaml.org,2002:null") == 0)
		n->stype = SC_NULL;
	else
		n->stype = SC_STR;
	set_tag(ld, n, ev->data.scalar.tag);
	/* "key: !reset" carries no value: it resets to null */
	if (n->tag_reset && !*n->str)
		n->stype = SC_NULL;
	return n;
}

/* Parse the node that starts with ev; consumes ev. */
static struct node *parse_node(struct loader *ld, yaml_event_t *ev)
{
	struct node *n = NULL;
	const yaml_char_t *anchor = NULL;
	char *anchor_name = NULL;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		if (anchor)
			anchor_name = xstrdup((const char *)anchor);
		if (spend(ld, 1, mark_pos(ld, ev->start_mark)))
			n = parse_scalar(ld, ev);
		yaml_event_delete(ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		if (anchor)
			anchor_name = xstrdup((const char *)anchor);
		if (spend(ld, 1, mark_pos(ld, ev->start_mark)))
			n = parse_sequence(ld, ev);
		yaml_event_delete(ev);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		if (anchor)
			anchor_name = xstrdup((const char *)anchor);
		if (spend(ld, 1, mark_pos(ld, ev->start_mark)))
			n = parse_mapping(ld, ev);
		yaml_event_delete(ev);
		break;
	case YAML_ALIAS_EVENT: {
		struct node_pos pos = mark_pos(ld, ev->start_mark);
		const struct node *target = anchor_find(ld, (const char *)ev->data.alias.anchor);

		if (!target) {
			diag_error(ld->dc, pos, "unknown anchor \"%s\" referenced",
				   (const char *)ev->data.alias.anchor);
			ld->failed = true;
		} else if (spend(ld, node_count(target), pos)) {
			n = node_copy(target);
		}
		yaml_event_delete(ev);
		break;
	}
	default:
		diag_error(ld->dc, mark_pos(ld, ev->start_mark), "unexpected YAML event");
		ld->failed = true;
		yaml_event_delete(ev);
		break;
	}
	if (n && anchor_name)
		anchor_define(ld, anchor_name, n);
	free(anchor_name);
	return n;
}

int compose_yaml_load(struct diag_ctx *dc, const char *file, const char *text, size_t len,
		      struct node ***docs)
{
	struct loader ld = {.dc = dc, .budget = LOAD_NODE_BUDGET};
	struct node **out = NULL;
	size_t ndocs = 0, errors_before = dc->errors, i;
	yaml_event_t ev;
	bool done = false;

	ld.file = diag_intern_file(dc, file);
	yaml_parser_initialize(&ld.parser);
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
	while (!done && next_event(&ld, &ev)) {
		struct node *root;

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			yaml_event_delete(&ev);
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&ev);
			break;
		case YAML_DOCUMENT_START_EVENT:
			yaml_event_delete(&ev);
			if (!next_event(&ld, &ev))
				break;
			root = parse_node(&ld, &ev);
			if (!root) {
				done = true;
				break;
			}
			out = xrealloc(out, (ndocs + 1) * sizeof(*out));
			out[ndocs++] = root;
			break;
		default:
			yaml_event_delete(&ev);
			break;
		}
	}
	yaml_parser_delete(&ld.parser);
	for (i = 0; i < ld.nanchors; i++) {
		free(ld.anchors[i].name);
		node_free(ld.anchors[i].node);
	}
	free(ld.anchors);
	if (ld.failed || dc->errors > errors_before) {
		for (i = 0; i < ndocs; i++)
			node_free(out[i]);
		free(out);
		*docs = NULL;
		return -1;
	}
	*docs = out;
	return (int)ndocs;
}
