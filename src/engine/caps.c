/* Capabilities: Docker's default set, cap_add/cap_drop with ALL, privileged; computed in
 * the parent with libcap, applied in the child with prctl and capset (bounding set first,
 * then permitted/effective/inheritable), which allocate nothing. */
#include "engine/internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

/* moby's oci/caps DefaultCapabilities. */
static const int default_caps[] = {
	CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,	     CAP_FOWNER,
	CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,	     CAP_SETUID,
	CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
	CAP_KILL,    CAP_AUDIT_WRITE,
};

static bool is_all(const char *name)
{
	return strcasecmp(name, "ALL") == 0;
}

static int cap_parse(const char *name, cap_value_t *v, struct stk_err *err)
{
	_cleanup_free_ char *full = str_has_prefix(name, "CAP_") || str_has_prefix(name, "cap_")
					    ? xstrdup(name)
					    : xasprintf("cap_%s", name);
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

/* The set the container gets, as a bitmask over cap_max_bits(). Computed once in the
 * parent (each cap_get_bound is a prctl); the child only applies it. */
int caps_compute(const struct engine_spec *s, uint64_t *set, struct stk_err *err)
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

/* Child side from here: raw prctl and capset on a precomputed set, no allocation. */
int caps_drop_bounding(uint64_t set, struct stk_err *err)
{
	int i;

	for (i = 0; i < 64; i++) {
		if ((set >> i) & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)i, 0, 0, 0) < 0) {
			/* EINVAL: past the last capability this kernel knows; we are done. */
			if (errno == EINVAL)
				return 0;
			return stk_err_sys(err, "drop capability %d from the bounding set", i);
		}
	}
	return 0;
}

int caps_apply(uint64_t set, struct stk_err *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	int i;

	memset(data, 0, sizeof(data));
	for (i = 0; i < 2; i++) {
		uint32_t word = (uint32_t)(set >> (32 * i));

		data[i].effective = word;
		data[i].permitted = word;
		data[i].inheritable = word;
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return stk_err_sys(err, "set capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return stk_err_sys(err, "clear ambient capabilities");
	return 0;
}
