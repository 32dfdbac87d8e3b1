/* Capabilities: Docker's default set, cap_add/cap_drop with ALL, privileged; applied
 * with libcap (bounding set first, then permitted/effective/inheritable). */
#include "engine/internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "util/cleanup.h"
#include "util/str.h"

/* moby's oci/caps DefaultCapabilities. */
static const int default_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW,
	CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
	CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

static bool is_all(const char *name)
{
	return strcasecmp(name, "ALL") == 0;
}

static int cap_parse(const char *name, cap_value_t *v, struct stk_err *err)
{
	_cleanup_free_ char *full = str_has_prefix(name, "CAP_") || str_has_prefix(name, "cap_")
		? xstrdup(name) : xasprintf("cap_%s", name);
	char *p;

	for (p = full; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (cap_from_name(full, v) < 0)
		return stk_err_set(err, EINVAL, "unknown capability \"%s\"", name);
	return 0;
}

static bool list_has_all(char **list)
{
	for (; list && *list; list++)
		if (is_all(*list))
			return true;
	return false;
}

/* The set the container gets, as a bitmask over cap_max_bits(). */
static int caps_compute(const struct engine_spec *s, uint64_t *set, struct stk_err *err)
{
	unsigned max = cap_max_bits(), c;
	uint64_t all = 0;
	char **p;
	size_t i;

	/* "All" is what we hold ourselves: a cap outside our bounding set cannot be given. */
	for (c = 0; c < max && c < 64; c++)
		if (cap_get_bound((cap_value_t)c) == 1)
			all |= 1ULL << c;

	*set = 0;
	if (s->privileged || list_has_all(s->cap_add)) {
		*set = all;
	} else if (!list_has_all(s->cap_drop)) {
		for (i = 0; i < sizeof(default_caps) / sizeof(default_caps[0]); i++)
			*set |= 1ULL << default_caps[i];
	}
	if (!s->privileged) {
		for (p = s->cap_drop; p && *p; p++) {
			cap_value_t v;

			if (is_all(*p))
				continue;
			if (cap_parse(*p, &v, err) < 0)
				return -1;
			*set &= ~(1ULL << v);
		}
	}
	for (p = s->cap_add; p && *p && !list_has_all(s->cap_add); p++) {
		cap_value_t v;

		if (cap_parse(*p, &v, err) < 0)
			return -1;
		*set |= 1ULL << v;
	}
	*set &= all;
	return 0;
}

bool caps_has(const struct engine_spec *s, int cap)
{
	struct stk_err err;
	uint64_t set;

	return caps_compute(s, &set, &err) == 0 && (set >> cap) & 1;
}

int caps_drop_bounding(const struct engine_spec *s, struct stk_err *err)
{
	unsigned max = cap_max_bits(), i;
	uint64_t set;

	if (caps_compute(s, &set, err) < 0)
		return -1;
	for (i = 0; i < max; i++)
		if (!((set >> i) & 1) && cap_drop_bound((cap_value_t)i) < 0 && errno != EINVAL)
			return stk_err_sys(err, "drop capability %s from the bounding set",
					   cap_to_name((cap_value_t)i));
	return 0;
}

int caps_apply(const struct engine_spec *s, struct stk_err *err)
{
	cap_value_t list[64];
	unsigned max = cap_max_bits(), i;
	int n = 0, rc = 0;
	uint64_t set;
	cap_t c;

	if (caps_compute(s, &set, err) < 0)
		return -1;
	for (i = 0; i < max && i < 64; i++)
		if ((set >> i) & 1)
			list[n++] = (cap_value_t)i;
	c = cap_init();
	if (!c)
		return stk_err_sys(err, "cap_init");
	if ((n && (cap_set_flag(c, CAP_EFFECTIVE, n, list, CAP_SET) < 0 ||
		   cap_set_flag(c, CAP_PERMITTED, n, list, CAP_SET) < 0 ||
		   cap_set_flag(c, CAP_INHERITABLE, n, list, CAP_SET) < 0)) ||
	    cap_set_proc(c) < 0)
		rc = stk_err_sys(err, "set capabilities");
	cap_free(c);
	if (rc == 0 && CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		rc = stk_err_sys(err, "clear ambient capabilities");
	return rc;
}
