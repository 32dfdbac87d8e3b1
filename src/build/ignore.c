/* .dockerignore (or <Dockerfile>.dockerignore next to the Dockerfile): Docker's
 * pattern rules. Each line is a pattern (Go filepath.Match per path component, "**"
 * for any number of components), "#" starts a comment, "!" makes an exception; the
 * last pattern that matches a path decides, and a pattern matching a directory
 * matches everything under it. */
#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static void ignore_add(struct build *b, const char *line)
{
	bool neg = false;
	char *pat;

	while (isspace((unsigned char)*line))
		line++;
	if (!*line || *line == '#')
		return;
	if (*line == '!') {
		neg = true;
		line++;
	}
	pat = build_clean_path(line);
	if (!*pat) {
		free(pat);
		return;
	}
	b->ignore = xrealloc(b->ignore, (b->nignore + 1) * sizeof(*b->ignore));
	b->ignore[b->nignore++] = xasprintf("%s%s", neg ? "!" : "", pat);
	free(pat);
}

int build_ignore_load(struct build *b, struct stk_err *err)
{
	const char *df = b->o->dockerfile ? b->o->dockerfile : "Dockerfile";
	_cleanup_free_ char *own = xasprintf("%s/%s.dockerignore", b->context, df);
	_cleanup_free_ char *common = xasprintf("%s/.dockerignore", b->context);
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;

	(void)err;
	text = str_read_file(own, NULL);
	if (!text)
		text = str_read_file(common, NULL);
	if (!text)
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		while (n && isspace((unsigned char)line[n - 1]))
			line[--n] = 0;
		ignore_add(b, line);
	}
	return 0;
}

bool build_pattern_match(const char *pat, const char *path)
{
	size_t pn = strcspn(pat, "/"), n = strcspn(path, "/");
	char pc[256], c[256];

	if (!*pat)
		return true; /* the pattern named a directory above the path */
	if (pn == 2 && pat[0] == '*' && pat[1] == '*') {
		const char *rest = pat[2] ? pat + 3 : pat + 2;

		for (;;) {
			if (build_pattern_match(rest, path))
				return true;
			if (!*path)
				return false;
			path += strcspn(path, "/");
			path += *path == '/';
		}
	}
	if (!*path || pn >= sizeof(pc) || n >= sizeof(c))
		return false;
	memcpy(pc, pat, pn);
	pc[pn] = 0;
	memcpy(c, path, n);
	c[n] = 0;
	if (fnmatch(pc, c, 0) != 0)
		return false;
	return build_pattern_match(pat[pn] ? pat + pn + 1 : pat + pn,
				   path[n] ? path + n + 1 : path + n);
}

bool build_ignored(const struct build *b, const char *rel)
{
	bool ignored = false;
	size_t i;

	for (i = 0; i < b->nignore; i++) {
		const char *p = b->ignore[i];
		bool neg = *p == '!';

		if (build_pattern_match(neg ? p + 1 : p, rel))
			ignored = !neg;
	}
	return ignored;
}
