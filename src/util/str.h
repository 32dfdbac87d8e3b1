/* Strings: allocation that cannot fail silently, and a growable buffer. */
#ifndef STK_UTIL_STR_H
#define STK_UTIL_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Out-of-memory aborts: there is no useful recovery for a CLI or supervisor. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct strbuf {
	char *buf;
	size_t len, cap;
};

void strbuf_init(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
void strbuf_addn(struct strbuf *sb, const char *s, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Give the buffer away; the strbuf is left empty. */
char *strbuf_take(struct strbuf *sb);

/* A whole stream or file into a NUL-terminated buffer; len (may be NULL) gets its
 * length. NULL with errno set when the file cannot be opened. */
char *str_read_stream(FILE *f, size_t *len);
char *str_read_file(const char *path, size_t *len);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* Levenshtein distance, for "did you mean". */
size_t str_edit_distance(const char *a, const char *b);

#endif
