libstack_a_SOURCES += src/image/image.h src/image/internal.h src/image/registry.h \
	src/image/ref.c src/image/store.c src/image/refs.c src/image/manifest.c \
	src/image/unpack.c src/image/tarpath.c src/image/registry.c src/image/pull.c \
	src/image/auth.c src/image/archive.c src/image/commit.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_image
TESTS += tests/unit/test_image
tests_unit_test_image_SOURCES = tests/unit/test_image.c
tests_unit_test_image_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_image_LDADD = $(UNIT_LDADD)
endif
