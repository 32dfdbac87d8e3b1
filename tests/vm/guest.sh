#!/bin/sh
# Inside the test VM (cgroup v2, host root read-only): the engine's unit tests and its
# cgroup, stop and lifecycle tests. The last line on the console carries the result for tests/vm/run.sh.
src=$1
build=$2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1 HOME=/run/tmp
export TMPDIR=/run/tmp
mkdir -p "$TMPDIR"
cd "$TMPDIR" || exit 1
echo "tests/vm: kernel $(uname -r), $(stat -fc %T /sys/fs/cgroup) on /sys/fs/cgroup"
if grep -q 'stack.mode=bench' /proc/cmdline; then
	# bench/ on a pure v2 hierarchy, where crun runs too (VM_MODE=bench tests/vm/run.sh).
	python3 "$src/bench/start_to_exit.py" --runs "${BENCH_RUNS:-100}" --stack "$build/stack"
	echo "STACK-VM-RESULT: $?"
	echo o > /proc/sysrq-trigger 2>/dev/null
	sleep 10
fi
# The engine's unit tests too: starts under allocation load, pause/remove on v2.
(cd "$build" && ./tests/unit/test_engine)
unit=$?
STACK_BIN="$build/stack" STACK_SRCDIR="$src" python3 -m pytest -q -p no:cacheprovider \
	--rootdir="$TMPDIR" -o cache_dir="$TMPDIR/.pytest" \
	"$src/tests/integration/test_engine_limits.py" \
	"$src/tests/integration/test_engine_stop.py" \
	"$src/tests/integration/test_engine_lifecycle.py" \
	"$src/tests/integration/test_engine_devices.py"
rc=$?
[ "$rc" -ne 0 ] || rc=$unit
echo "STACK-VM-RESULT: $rc"
# Power off at once; if sysrq is unavailable, PID 1 exiting panics and -no-reboot ends qemu.
echo o > /proc/sysrq-trigger 2>/dev/null
sleep 10
