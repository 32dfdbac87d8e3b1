libstack_a_SOURCES += src/util/err.c src/util/err.h src/util/str.c src/util/str.h \
	src/util/cleanup.h src/util/fs.c src/util/fs.h src/util/bytes.c src/util/bytes.h \
	src/util/lazylib.h src/util/lazylib.c src/util/lazy_curl.h src/util/lazy_curl.c \
	src/util/lazy_archive.h src/util/lazy_archive.c src/util/lazy_nl.h src/util/lazy_nl.c \
	src/util/lazy_nft.h src/util/lazy_nft.c src/util/lazy_ldns.h src/util/lazy_ldns.c \
	src/util/lazy_crypto.h src/util/lazy_crypto.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_util
TESTS += tests/unit/test_util
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_util_LDADD = $(UNIT_LDADD)
endif
