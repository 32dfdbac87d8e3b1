libstack_a_SOURCES += src/engine/engine.h src/engine/internal.h src/engine/cgroup.h \
	src/engine/seccomp.h src/engine/container.c src/engine/ns.c src/engine/child.c \
	src/engine/process.c src/engine/rootfs.c src/engine/mount.c src/engine/dev.c \
	src/engine/caps.c src/engine/seccomp.c src/engine/seccomp_json.c src/engine/user.c \
	src/engine/exec.c src/engine/cgroup.c src/engine/cgroup_v1.c src/engine/cgroup_v2.c src/engine/cgroup_devices.c \
	src/engine/spec.c src/engine/record.c src/engine/signal.c src/engine/initpath.c src/engine/plan.c

# The PID 1 of `init: true` containers: static, so it runs in any image, and built
# without the sanitizers, which cannot link statically.
pkglibexec_PROGRAMS = stack-init
stack_init_SOURCES = src/engine/init/stack-init.c
stack_init_CFLAGS = -std=gnu11 -Wall -Wextra -Werror
stack_init_LDFLAGS = -static

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_engine
TESTS += tests/unit/test_engine
tests_unit_test_engine_SOURCES = tests/unit/test_engine.c
tests_unit_test_engine_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_engine_LDADD = $(UNIT_LDADD)
endif

AM_CPPFLAGS += -DSTACK_LIBEXECDIR=\"$(pkglibexecdir)\"
libstack_a_SOURCES += src/engine/copy.c
# The cgroup v2 interface files the unit tests read.
EXTRA_DIST += tests/unit/fixtures

# The identity of the code that builds seccomp filters (seccomp.c with the default
# profile's tables, seccomp_json.c), for the disk cache's file names: made here, so the
# engine keys the built-in profile without a digest at run time (docs/engine.md).
SECCOMP_ID_INPUTS = $(top_srcdir)/src/engine/seccomp.c $(top_srcdir)/src/engine/seccomp_json.c
src/engine/seccomp_id.h: $(SECCOMP_ID_INPUTS)
	$(AM_V_GEN)$(MKDIR_P) src/engine && \
	id=`cat $(SECCOMP_ID_INPUTS) | sha256sum | cut -c1-16` && test -n "$$id" && \
	printf '#define STK_SECCOMP_SOURCE_ID "%s"\n' "$$id" > $@.tmp && mv $@.tmp $@
BUILT_SOURCES = src/engine/seccomp_id.h
# Also for targets BUILT_SOURCES does not cover (`make unit`, one object) in a fresh tree.
src/engine/seccomp.$(OBJEXT): src/engine/seccomp_id.h
nodist_libstack_a_SOURCES = src/engine/seccomp_id.h
CLEANFILES = src/engine/seccomp_id.h src/engine/seccomp_id.h.tmp
