libstack_a_SOURCES += src/state/state.h src/state/state.c
