/* Byte sizes: exact integer arithmetic (no float rounding for "8e18"-sized values). */
#include "util/bytes.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int unit_shift(char c)
{
	switch (tolower((unsigned char)c)) {
	case 'k':
		return 10;
	case 'm':
		return 20;
	case 'g':
		return 30;
	case 't':
		return 40;
	case 'p':
		return 50;
	default:
		return -1;
	}
}

int stk_parse_bytes(const char *s, const char *field, int64_t *out, struct stk_err *err)
{
	unsigned __int128 whole = 0, frac = 0, den = 1, v;
	const char *p = s;
	int shift = 0;

	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > INT64_MAX)
			goto too_large;
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			goto bad;
		/* digits past 18 cannot change a result below 2^63 after the unit's shift */
		for (; isdigit((unsigned char)*p); p++)
			if (den < 1000000000000000000ULL) {
				frac = frac * 10 + (unsigned)(*p - '0');
				den *= 10;
			}
	}
	if (*p == ' ')
		p++;
	if (*p && unit_shift(*p) >= 0)
		shift = unit_shift(*p++);
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		goto bad;
	v = (whole << shift) + ((frac << shift) / den);
	if (v > INT64_MAX)
		goto too_large;
	*out = (int64_t)v;
	return 0;
bad:
	return stk_err_set(err, EINVAL,
			   "%s: invalid size \"%s\" (a number with an optional "
			   "unit b, k, m, g, t or p)",
			   field, s);
too_large:
	return stk_err_set(err, ERANGE, "%s: size \"%s\" is too large", field, s);
}

static void size_in_units(double v, double base, const char *const *abbr, int prec, char *buf,
			  size_t len)
{
	int i = 0;

	while (v >= base && abbr[i + 1]) {
		v /= base;
		i++;
	}
	snprintf(buf, len, "%.*g%s", prec, v, abbr[i]);
}

void stk_human_size(uint64_t n, char *buf, size_t len)
{
	static const char *const a[] = {"B", "kB", "MB", "GB", "TB", "PB", NULL};

	size_in_units((double)n, 1000, a, 3, buf, len);
}

void stk_binary_size(uint64_t n, char *buf, size_t len)
{
	static const char *const a[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", NULL};

	size_in_units((double)n, 1024, a, 4, buf, len);
}
