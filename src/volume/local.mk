libstack_a_SOURCES += src/volume/volume.h src/volume/internal.h src/volume/store.c \
	src/volume/users.c src/volume/copyup.c src/volume/snapshot.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_volume
TESTS += tests/unit/test_volume
tests_unit_test_volume_SOURCES = tests/unit/test_volume.c
tests_unit_test_volume_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_volume_LDADD = $(UNIT_LDADD)
endif
