libstack_a_SOURCES += compose/compose.h compose/model.h compose/node.h compose/internal.h \
	compose/interp.h compose/node.c compose/load.c compose/interp.c compose/dotenv.c \
	compose/project.c compose/canon.h compose/canon.c compose/canon_service.c compose/merge.c compose/extends.c compose/include.c \
	compose/normalize.c compose/validate.c compose/graph.h compose/graph.c compose/decode.c compose/model.c compose/emit.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_compose
TESTS += tests/unit/test_compose
tests_unit_test_compose_SOURCES = tests/unit/test_compose.c
tests_unit_test_compose_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_compose_LDADD = $(UNIT_LDADD)
endif
