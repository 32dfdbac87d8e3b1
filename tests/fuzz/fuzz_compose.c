/* libFuzzer target: the whole project load, as `stack config` drives it. The input is
 * a set of files, each after a header line "==> NAME <==" (text before the first header
 * is compose.yaml):
 *   compose.yaml, compose.override.yaml, other.yaml, base.yaml, .env  the project's files
 *   env  the shell's environment, one NAME=VALUE a line
 * so that .env, COMPOSE_PROJECT_NAME, COMPOSE_PROFILES, COMPOSE_FILE and the override
 * file are all in play. Variables of env that start with FUZZ_ are the command line:
 * FUZZ_P (-p), FUZZ_PROFILE (--profile), FUZZ_SERVICE (a service named),
 * FUZZ_NO_INTERPOLATE (--no-interpolate), FUZZ_FILES (-f, comma-separated).
 * The files live in a directory of their own, made for each input and removed after. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"

static const char *const file_names[] = {"compose.yaml",	  "other.yaml", "base.yaml",
					 "compose.override.yaml", ".env",	NULL};

struct input {
	const char *text[6]; /* file_names, then env */
	size_t len[6];
};

static size_t name_index(const char *s, size_t n)
{
	size_t i;

	for (i = 0; file_names[i]; i++)
		if (strlen(file_names[i]) == n && !memcmp(file_names[i], s, n))
			return i;
	if (n == 3 && !memcmp(s, "env", 3))
		return i;
	return (size_t)-1;
}

/* Cut the input at its "==> NAME <==" lines. */
static void split_input(const char *data, size_t size, struct input *in)
{
	const char *p = data, *end = data + size;
	size_t cur = 0;

	memset(in, 0, sizeof(*in));
	in->text[0] = data;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t n = (size_t)(line_end - p), idx;

		if (n > 8 && !memcmp(p, "==> ", 4) && !memcmp(line_end - 4, " <==", 4) &&
		    (idx = name_index(p + 4, n - 8)) != (size_t)-1) {
			in->len[cur] = (size_t)(p - in->text[cur]);
			cur = idx;
			in->text[cur] = nl ? nl + 1 : end;
		}
		p = nl ? nl + 1 : end;
	}
	in->len[cur] = (size_t)(end - in->text[cur]);
}

static char dir[64];

static void remove_dir(void)
{
	char path[128];
	size_t i;

	for (i = 0; file_names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, file_names[i]);
		unlink(path);
	}
	rmdir(dir);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/* A directory per input, gone after it: libFuzzer ends without running atexit. */
static int make_dir(void)
{
	char tmpl[] = "/tmp/stk-fuzz-compose-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	snprintf(dir, sizeof(dir), "%s/proj", tmpl);
	return mkdir(dir, 0700);
}

static void put_file(const char *name, const char *text, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!text) {
		unlink(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if (len && write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	struct compose_options opt = {0};
	struct compose_diags diags = {0};
	struct compose_project *p = NULL;
	char *env_copy, *line, *save = NULL, **environ_v;
	const char *files[8], *profiles[1], *services[1];
	char *files_copy = NULL;
	size_t i, n = 0;

	/* a path into the host's special files could block or never end */
	if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
	    memmem(data, size, "/sys", 4))
		return 0;
	if (make_dir() < 0)
		abort();
	split_input((const char *)data, size, &in);
	for (i = 0; file_names[i]; i++)
		put_file(file_names[i], in.text[i], in.len[i]);

	env_copy = strndup(in.text[5] ? in.text[5] : "", in.len[5]);
	environ_v = calloc(in.len[5] / 2 + 2, sizeof(*environ_v));
	for (line = strtok_r(env_copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strchr(line, '='))
			continue;
		environ_v[n++] = line;
		if (!strncmp(line, "FUZZ_P=", 7))
			opt.project_name = line + 7;
		else if (!strncmp(line, "FUZZ_PROFILE=", 13))
			profiles[0] = line + 13, opt.nprofiles = 1;
		else if (!strncmp(line, "FUZZ_SERVICE=", 13))
			services[0] = line + 13, opt.nservices = 1;
		else if (!strncmp(line, "FUZZ_NO_INTERPOLATE=", 20))
			opt.no_interpolate = true;
		else if (!strncmp(line, "FUZZ_FILES=", 11) && !files_copy) {
			char *f, *fsave = NULL;

			files_copy = strdup(line + 11);
			for (f = strtok_r(files_copy, ",", &fsave); f && opt.nfiles < 8;
			     f = strtok_r(NULL, ",", &fsave))
				if (strcmp(f, "-")) /* standard input would wait */
					files[opt.nfiles++] = f;
		}
	}
	opt.profiles = profiles;
	opt.services = services;
	opt.files = files;
	opt.environ = environ_v;
	opt.cwd = dir;

	if (compose_project_load(&opt, &p, &diags) == 0) {
		size_t *order = calloc(p->nservices + 1, sizeof(*order));

		free(compose_project_render(p, COMPOSE_YAML));
		free(compose_project_render(p, COMPOSE_JSON));
		compose_start_order(p, order);
		free(order);
		compose_project_free(p);
	}
	compose_diags_free(&diags);
	remove_dir();
	free(files_copy);
	free(environ_v);
	free(env_copy);
	return 0;
}
