/* The canonicaliser's schema machinery, shared by canon.c (generic types) and
 * canon_service.c (the service attributes with short syntax). Private to compose/. */
#ifndef STK_COMPOSE_CANON_H
#define STK_COMPOSE_CANON_H

#include "compose/compose.h"
#include "compose/internal.h"

struct canon {
	struct load_ctx *lc;
	const char *base_dir; /* relative paths resolve against this */
};

struct attr;
/* Convert in (at attribute path `path`) to its canonical node, or report and return
 * NULL. An attribute that converts to nothing (e.g. an empty list) may return NULL
 * without an error; callers check the error count. */
typedef struct node *(*canon_fn)(struct canon *c, const struct node *in, const char *path,
				 const struct attr *a);

struct attr {
	const char *name;
	canon_fn fn;
	const struct attr *sub; /* object schema for c_object / c_map_of / c_list_of */
};

struct node *canon_error(struct canon *c, const struct node *n, const char *path, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
char *canon_path(const char *path, const char *key);
char *canon_path_index(const char *path, size_t i);
struct node *canon_object_with(struct canon *c, const struct node *in, const char *path,
			       const struct attr *schema, const char *what);
char *canon_resolve_path(struct canon *c, const char *p);
/* A path on the host the engine reads (a bind's source, a secret's file): as
 * canon_resolve_path, but a Windows absolute path (C:\x, \\server\share) is kept as
 * written, as Compose keeps it. */
char *canon_resolve_host_path(struct canon *c, const char *p);
bool canon_is_windows_abs(const char *p);

/* A list whose entries are short syntax (a scalar that from_short expands, pushing
 * one or more entries onto out, or returning false with *why set) or long syntax (a
 * mapping in schema that must set every key in required). finish, if set, completes
 * each entry (defaults, path resolution) or reports it at path and returns false: the
 * entry is dropped then. */
struct entry_syntax {
	bool (*from_short)(struct canon *c, const struct node *it, struct node *out, char **why);
	const struct attr *schema;
	const char *what;
	const char *const *required;
	bool (*finish)(struct canon *c, struct node *entry, const char *path);
};

struct node *canon_entries(struct canon *c, const struct node *in, const char *path,
			   const struct entry_syntax *syn);

/* Generic attribute types. */
struct node *c_string(struct canon *c, const struct node *in, const char *path,
		      const struct attr *a);
struct node *c_scalar_string(struct canon *c, const struct node *in, const char *path,
			     const struct attr *a);
struct node *c_int(struct canon *c, const struct node *in, const char *path, const struct attr *a);
struct node *c_float(struct canon *c, const struct node *in, const char *path,
		     const struct attr *a);
struct node *c_bool(struct canon *c, const struct node *in, const char *path, const struct attr *a);
struct node *c_duration(struct canon *c, const struct node *in, const char *path,
			const struct attr *a);
struct node *c_bytes(struct canon *c, const struct node *in, const char *path,
		     const struct attr *a);
struct node *c_strlist(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a);
struct node *c_str_or_list(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a);
struct node *c_command(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a);
struct node *c_env_mapping(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a);
struct node *c_label_mapping(struct canon *c, const struct node *in, const char *path,
			     const struct attr *a);
struct node *c_str_map(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a);
struct node *c_object(struct canon *c, const struct node *in, const char *path,
		      const struct attr *a);
struct node *c_map_of(struct canon *c, const struct node *in, const char *path,
		      const struct attr *a);
struct node *c_list_of(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a);
struct node *c_any(struct canon *c, const struct node *in, const char *path, const struct attr *a);
struct node *c_ip(struct canon *c, const struct node *in, const char *path, const struct attr *a);
struct node *c_cidr(struct canon *c, const struct node *in, const char *path, const struct attr *a);
struct node *c_path(struct canon *c, const struct node *in, const char *path, const struct attr *a);
struct node *c_host_path(struct canon *c, const struct node *in, const char *path,
			 const struct attr *a);

/* canon_service.c */
extern const struct attr service_schema[];
struct node *canon_service(struct canon *c, const struct node *in, const char *path);

#endif
