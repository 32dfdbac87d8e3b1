libstack_a_SOURCES += src/cli/cli.h src/cli/common.c src/cli/version.c src/cli/config.c src/cli/project.c \
	src/cli/image.c src/cli/image_admin.c src/cli/net_plumbing.c src/cli/net_serve.c src/cli/runtime.c \
	src/cli/runtime_net.c src/cli/runtime_net.h \
	src/cli/volume.c src/cli/build.c src/cli/up.c src/cli/ps.c
