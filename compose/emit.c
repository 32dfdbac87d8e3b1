/* The canonical tree out as YAML (libyaml's emitter) or JSON (json-c), in the order
 * the tree holds its keys. Strings that would read back as another type are quoted. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "compose/compose.h"
#include "compose/internal.h"
#include "util/lazy_crypto.h"
#include "util/str.h"

static int write_strbuf(void *data, unsigned char *buf, size_t size)
{
	strbuf_addn(data, (const char *)buf, size);
	return 1;
}

/* YAML 1.1 readers take these as booleans: quote them, as Go's yaml.v3 does. */
static bool yaml11_bool(const char *s)
{
	static const char *const words[] = {"y",  "Y",	 "yes", "Yes", "YES", "n",
					    "N",  "no",	 "No",	"NO",  "on",  "On",
					    "ON", "off", "Off", "OFF", NULL};
	const char *const *w;

	if (!strchr("yYnNoO", s[0]))
		return false;
	for (w = words; *w; w++)
		if (!strcmp(*w, s))
			return true;
	return false;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, enum scalar_type t)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

	if (t == SC_NULL)
		s = "null";
	else if (t == SC_STR && strchr(s, '\n'))
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (t == SC_STR && (scalar_resolve(s) != SC_STR || yaml11_bool(s) || !strcmp(s, "<<")))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
				     style != YAML_DOUBLE_QUOTED_SCALAR_STYLE, 1, style);
	return yaml_emitter_emit(em, &ev);
}

static int emit_node(yaml_emitter_t *em, const struct node *n)
{
	yaml_event_t ev;
	size_t i;

	switch (n->kind) {
	case NODE_SCALAR:
		return emit_scalar(em, n->str, n->stype);
	case NODE_SEQ:
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						     n->len ? YAML_BLOCK_SEQUENCE_STYLE
							    : YAML_FLOW_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return 0;
		for (i = 0; i < n->len; i++)
			if (!emit_node(em, n->items[i]))
				return 0;
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	case NODE_MAP:
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						    n->len ? YAML_BLOCK_MAPPING_STYLE
							   : YAML_FLOW_MAPPING_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return 0;
		for (i = 0; i < n->len; i++) {
			if (!emit_scalar(em, n->pairs[i].key, SC_STR) ||
			    !emit_node(em, n->pairs[i].value))
				return 0;
		}
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev);
	}
	return 0;
}

char *compose_emit_yaml(const struct node *tree)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	struct strbuf sb = {0};
	int ok;

	yaml_emitter_initialize(&em);
	yaml_emitter_set_output(&em, write_strbuf, &sb);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	ok = yaml_emitter_emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	ok = ok && yaml_emitter_emit(&em, &ev);
	ok = ok && emit_node(&em, tree);
	yaml_document_end_event_initialize(&ev, 1);
	ok = ok && yaml_emitter_emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	ok = ok && yaml_emitter_emit(&em, &ev);
	yaml_emitter_delete(&em);
	if (!ok) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_take(&sb);
}

static struct json_object *to_json(const struct node *n)
{
	struct json_object *o;
	long long i;
	double d;
	bool b;
	size_t k;

	switch (n->kind) {
	case NODE_SEQ:
		o = json_object_new_array_ext((int)n->len);
		for (k = 0; k < n->len; k++)
			json_object_array_add(o, to_json(n->items[k]));
		return o;
	case NODE_MAP:
		o = json_object_new_object();
		for (k = 0; k < n->len; k++)
			json_object_object_add(o, n->pairs[k].key, to_json(n->pairs[k].value));
		return o;
	case NODE_SCALAR:
		break;
	}
	switch (n->stype) {
	case SC_NULL:
		return NULL;
	case SC_BOOL:
		return json_object_new_boolean(node_as_bool(n, &b) && b);
	case SC_INT:
		if (node_as_int(n, &i))
			return json_object_new_int64(i);
		break;
	case SC_FLOAT:
		if (node_as_float(n, &d))
			return json_object_new_double(d);
		break;
	case SC_STR:
		break;
	}
	return json_object_new_string(n->str);
}

/* json-c prints an empty object or array over two lines when pretty; Compose prints
 * {} and []. Outside strings, a bracket followed only by white space up to its
 * closing bracket is joined. */
static char *join_empty_containers(const char *in)
{
	struct strbuf sb = {0};
	bool in_str = false;

	for (; *in; in++) {
		strbuf_addc(&sb, *in);
		if (in_str) {
			if (*in == '\\' && in[1])
				strbuf_addc(&sb, *++in);
			else if (*in == '"')
				in_str = false;
			continue;
		}
		if (*in == '"') {
			in_str = true;
		} else if (*in == '{' || *in == '[') {
			const char *p = in + 1;

			while (*p == ' ' || *p == '\n')
				p++;
			if (*p == (*in == '{' ? '}' : ']')) {
				strbuf_addc(&sb, *p);
				in = p;
			}
		}
	}
	return strbuf_take(&sb);
}

char *compose_emit_json(const struct node *tree, bool pretty)
{
	struct json_object *o = to_json(tree);
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
			    : JSON_C_TO_STRING_PLAIN);
	char *joined = join_empty_containers(json_object_to_json_string_ext(o, flags));
	char *s = xasprintf("%s\n", joined);

	free(joined);
	json_object_put(o);
	return s;
}

static char *escape_dollars(const char *s)
{
	struct strbuf sb = {0};

	for (; *s; s++) {
		if (*s == '$')
			strbuf_addc(&sb, '$');
		strbuf_addc(&sb, *s);
	}
	return strbuf_take(&sb);
}

bool compose_has_dollar(const struct node *n)
{
	size_t i;

	if (n->kind == NODE_SCALAR)
		return n->stype == SC_STR && strchr(n->str, '$');
	for (i = 0; i < n->len; i++)
		if (n->kind == NODE_SEQ
			    ? compose_has_dollar(n->items[i])
			    : strchr(n->pairs[i].key, '$') || compose_has_dollar(n->pairs[i].value))
			return true;
	return false;
}

/* An interpolated model printed so that reading it back yields the same model: every
 * '$' doubled, as `docker compose config` does. */
void compose_escape_dollars(struct node *n)
{
	size_t i;

	if (n->kind == NODE_SCALAR && n->stype == SC_STR && strchr(n->str, '$')) {
		char *e = escape_dollars(n->str);

		free(n->str);
		n->str = e;
	}
	for (i = 0; n->kind == NODE_SEQ && i < n->len; i++)
		compose_escape_dollars(n->items[i]);
	for (i = 0; n->kind == NODE_MAP && i < n->len; i++) {
		if (strchr(n->pairs[i].key, '$')) {
			char *e = escape_dollars(n->pairs[i].key);

			free(n->pairs[i].key);
			n->pairs[i].key = e;
		}
		compose_escape_dollars(n->pairs[i].value);
	}
}

/* The hash covers the service's canonical JSON, so any change that `config` would show
 * changes it, and formatting of the source files does not. */
char *compose_service_hash(const struct compose_project *p, const char *service)
{
	const struct node *services = node_map_get(p->tree, "services");
	const struct node *svc = node_map_get(services, service);
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct strbuf sb = {0};
	SHA256_CTX ctx;
	char *json;
	size_t i;

	if (!svc)
		return NULL;
	json = compose_emit_json(svc, false);
	/* The low-level functions, not EVP: EVP sets up OpenSSL's providers on first use,
	 * which costs the CLI about 2 ms and the supervisor some 2 MiB resident. */
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, json, strlen(json));
	SHA256_Final(md, &ctx);
	free(json);
	for (i = 0; i < sizeof(md); i++)
		strbuf_addf(&sb, "%02x", md[i]);
	return strbuf_take(&sb);
}

char *compose_recorded_hash(const struct compose_project *p, const char *service)
{
	const struct node *h = node_map_get(node_map_get(p->tree, COMPOSE_HASHES_KEY), service);

	if (h && h->kind == NODE_SCALAR && h->stype == SC_STR && strlen(h->str) == 64)
		return xstrdup(h->str);
	return compose_service_hash(p, service);
}
