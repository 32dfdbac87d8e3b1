libstack_a_SOURCES += src/net/net.h src/net/internal.h src/net/record.c src/net/naming.c \
	src/net/ipam.c src/net/ipam6.c src/net/netlink.c src/net/nft.c src/net/network.c src/net/ports.c src/net/files.c \
	src/net/dns.h src/net/dns_zone.c src/net/dns_msg.c \
	src/net/runtime.h src/net/runtime.c src/net/dns_server.c src/net/proxy.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_net
TESTS += tests/unit/test_net
tests_unit_test_net_SOURCES = tests/unit/test_net.c
tests_unit_test_net_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_net_LDADD = $(UNIT_LDADD)
endif
