/* compose/: the Compose front end. Files in, a validated project model out. Pure C,
 * no Linux-specific calls, and nothing here knows about containers. */
#ifndef STK_COMPOSE_H
#define STK_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compose/model.h"

enum compose_severity { COMPOSE_ERROR, COMPOSE_WARNING };

/* One message about the input, at file:line:col (line 0 when no place applies). */
struct compose_diag {
	enum compose_severity severity;
	char *file;
	int line, col;
	char *msg;
};

struct compose_diags {
	struct compose_diag *v;
	size_t n;
};

void compose_diags_free(struct compose_diags *d);
size_t compose_diags_errors(const struct compose_diags *d);

struct compose_options {
	const char *const *files; /* -f; "-" is standard input */
	size_t nfiles;
	const char *project_name; /* -p */
	const char *project_dir; /* --project-directory */
	const char *const *env_files;
	size_t nenv_files;
	const char *const *profiles;
	size_t nprofiles;
	const char *const *services; /* named on the command line: enables their profiles */
	size_t nservices;
	char *const *environ; /* the shell's environment; NULL for none */
	const char *cwd; /* NULL: the process's */
	FILE *stdin_file; /* for "-f -"; NULL: stdin */
	bool no_interpolate;
};

/* Load, interpolate, merge, canonicalise and validate a project. On failure returns -1
 * and *out is NULL; every problem found is in diags (warnings too, on success). */
int compose_project_load(const struct compose_options *opt, struct compose_project **out,
			 struct compose_diags *diags);
void compose_project_free(struct compose_project *p);

enum compose_format { COMPOSE_YAML, COMPOSE_JSON };

/* Services in start order (every service after what it depends on), as indexes into
 * p->services; stop order is the reverse. order holds p->nservices entries. */
void compose_start_order(const struct compose_project *p, size_t *order);

/* Durations ("1m30s") and sizes ("512m") as Compose reads them. */
bool compose_parse_duration(const char *s, long long *ns);
char *compose_format_duration(long long ns);
bool compose_parse_bytes(const char *s, long long *bytes);

/* The canonical form of the project, as `docker compose config` prints it. */
char *compose_project_render(const struct compose_project *p, enum compose_format fmt);
/* A digest of one service's canonical configuration (hex SHA-256). */
char *compose_service_hash(const struct compose_project *p, const char *service);
/* The applied model the CLI records for the supervisor (projects/<name>/compose.json)
 * carries each service's hash under this top-level extension, so the supervisor reads
 * it rather than computing it (and never loads libcrypto for it). */
#define COMPOSE_HASHES_KEY "x-stack-config-hashes"
/* That recorded hash, or when the model has none for the service (a record written by an
 * older stack), compose_service_hash's. */
char *compose_recorded_hash(const struct compose_project *p, const char *service);

#endif
