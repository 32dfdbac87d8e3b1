libstack_a_SOURCES += src/cli/cli.h src/cli/common.c src/cli/version.c src/cli/config.c src/cli/project.c \
	src/cli/image.c src/cli/image_admin.c src/cli/net_plumbing.c src/cli/net_serve.c src/cli/runtime.c \
	src/cli/runtime_net.c src/cli/runtime_net.h src/cli/runtime_volume.c src/cli/runtime_volume.h \
	src/cli/volume.c src/cli/build.c src/cli/up.c src/cli/ps.c \
	src/cli/port.c src/cli/wait.c \
	src/cli/exec.c src/cli/exec.h src/cli/session.c src/cli/session.h src/cli/run.c src/cli/attach.c
# The daily commands (cp, top, stats, events, completion).
libstack_a_SOURCES += src/cli/daily.h src/cli/daily.c src/cli/cp.c src/cli/top.c src/cli/stats.c src/cli/events.c src/cli/images.c src/cli/completion.c
