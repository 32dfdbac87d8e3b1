/* Byte sizes as Docker reads them (go-units RAMInBytes), one parser for the compose
 * file and the engine's spec: "100", "512m", "1.5GB", "64KiB", "2 t". */
#ifndef STK_UTIL_BYTES_H
#define STK_UTIL_BYTES_H

#include <stdint.h>

#include "util/err.h"

/* Digits with an optional fraction, an optional space, an optional binary unit k, m, g,
 * t or p, an optional "i" and an optional "b", in any case. The fraction of a byte is
 * dropped. A bad or too large (past INT64_MAX) value is an error naming field. */
int stk_parse_bytes(const char *s, const char *field, int64_t *out, struct stk_err *err);

/* As Docker prints sizes (go-units): decimal with 3 significant digits ("4.26MB"), and
 * binary with 4 ("1.465MiB"). */
void stk_human_size(uint64_t n, char *buf, size_t len);
void stk_binary_size(uint64_t n, char *buf, size_t len);
#endif
