libstack_a_SOURCES += src/build/build.h src/build/dockerfile.h src/build/dockerfile.c \
	src/build/words.c src/build/internal.h src/build/state.c src/build/build.c src/build/run.c \
	src/build/copy.c src/build/layer.c src/build/ignore.c src/build/cache.c src/build/mounts.c src/build/fetch.c src/build/imagefs.c \
	src/build/statcache.c src/build/reap.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_build
TESTS += tests/unit/test_build
tests_unit_test_build_SOURCES = tests/unit/test_build.c
tests_unit_test_build_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_build_LDADD = $(UNIT_LDADD)
endif
