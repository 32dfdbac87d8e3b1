libstack_a_SOURCES += src/super/super.h src/super/internal.h src/super/supervisor.c \
	src/super/ctr.c src/super/health.c src/super/spec.c src/super/netmode.c src/super/logs.c src/super/logs_read.c src/super/client.c src/super/up_pull.c \
	src/super/volumes.c src/super/svc_volumes.c
libstack_a_SOURCES += src/super/events.c
