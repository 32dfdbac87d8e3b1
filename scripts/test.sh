#!/bin/sh
# Installs what is needed, builds with warnings as errors, and runs every test:
# unit and integration tests, the unit tests again under ASan and UBSan, and the
# fuzzers for their time budget, and the engine's tests on cgroup v2 in a VM. What CI runs.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
jobs=$(nproc)

autoreconf -fi
# Out-of-tree builds need a source tree that was not configured in place.
[ ! -f config.status ] || make distclean >/dev/null

rm -rf build && mkdir build
(cd build && ../configure --enable-werror && make -j"$jobs" && make -j"$jobs" check) ||
	{ cat build/tests/unit/*.log 2>/dev/null; exit 1; }

# The engine's cgroup and lifecycle tests again on cgroup v2, in a VM (Debian's kernel
# under qemu, host root shared read-only over 9p), with the binary just built.
sh tests/vm/run.sh build

# Unit tests under the sanitizers, in a separate build tree (both trees are out of the
# source tree, which autoconf requires).
rm -rf build-asan && mkdir build-asan
(cd build-asan && ../configure --enable-werror --enable-sanitizers >/dev/null &&
	make -j"$jobs" >/dev/null && make -j"$jobs" unit) ||
	{ cat build-asan/tests/unit/*.log 2>/dev/null; exit 1; }

sh tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
