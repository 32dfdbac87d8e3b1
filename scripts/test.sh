#!/bin/sh
# Installs what is needed, checks the formatting, builds with warnings as errors, and runs
# every test: unit and integration tests, the engine's tests on cgroup v2 in a VM, the unit
# and integration tests again against the ASan and UBSan build, and the fuzzers for their
# time budget. What CI runs (.ci/run, with an empty test-image cache of its own).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
jobs=$(nproc)

sh scripts/format.sh --check

# The test images (busybox, postgres, redis) are built from the apt mirror here, before
# the integration suite shuts itself into a network namespace of its own where the mirror
# cannot be reached; the suite finds them in this cache and never downloads.
STACK_TEST_IMAGES=${STACK_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/stack-test-images}
export STACK_TEST_IMAGES
start=$(date +%s)
/usr/bin/python3 tests/images/build.py >/dev/null
echo "test images ready in $STACK_TEST_IMAGES ($(($(date +%s) - start)) s)"

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
# source tree, which autoconf requires). Any report aborts the test that caused it.
ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1
UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS UBSAN_OPTIONS
rm -rf build-asan && mkdir build-asan
(cd build-asan && ../configure --enable-werror --enable-sanitizers >/dev/null &&
	make -j"$jobs" >/dev/null && make -j"$jobs" unit) ||
	{ cat build-asan/tests/unit/*.log 2>/dev/null; exit 1; }

# The integration suite against the sanitizer build: every test that runs the stack
# binary (config goldens, the CLI, the engine, images, networks). conftest.py sees the
# ASan build and runs it with options under which a report fails the test. Left out:
# test_lazy_libs.py, which asserts the exact set of shared objects the loader maps
# (libasan and libubsan are extra) and swaps libraries for stubs with LD_LIBRARY_PATH;
# test_hardening.py, which checks the release build's flags (the sanitizer build is
# not it).
(cd build-asan && STACK_BIN=$PWD/stack STACK_SRCDIR=$(cd .. && pwd) \
	/usr/bin/python3 -m pytest -q -p no:cacheprovider \
	--ignore=../tests/integration/test_lazy_libs.py \
	--ignore=../tests/integration/test_hardening.py \
	../tests/integration)

sh tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
