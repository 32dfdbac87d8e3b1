#!/bin/sh
# Runs the engine's cgroup and lifecycle tests on cgroup v2: boots Debian's own kernel
# (linux-image-amd64) under qemu-system-x86_64 with a tiny initramfs that mounts the
# host's root read-only over 9p, mounts the unified hierarchy, and runs pytest there.
# Usage: tests/vm/run.sh [BUILDDIR]   (BUILDDIR holds the built ./stack; default: srcdir)
# VM_MODE=bench runs bench/start_to_exit.py in the guest instead of the tests.
set -eu
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(cd "${1:-$srcdir}" && pwd)
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "tests/vm: no kernel in /boot (install linux-image-amd64)"; exit 1; }
kver=${kernel#/boot/vmlinuz-}
command -v qemu-system-x86_64 >/dev/null || { echo "tests/vm: install qemu-system-x86"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/mod" "$work/root/newroot" "$work/root/proc"
cp /bin/busybox "$work/root/bin/busybox"
for a in sh mount insmod mkdir echo cat switch_root sleep; do ln -s busybox "$work/root/bin/$a"; done
# 9p over virtio and overlay, with their dependencies, in load order.
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe --show-depends -S "$kver" "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' > "$work/modules"
i=0
while read -r ko; do
	i=$((i + 1))
	cp "$ko" "$work/root/mod/$(printf %02d $i)-$(basename "$ko")"
done < "$work/modules"
cp "$srcdir/tests/vm/init.sh" "$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

log="$work/console.log"
timeout "${VM_TIMEOUT:-1500}" qemu-system-x86_64 -nographic -no-reboot -m 2048 -smp 2 \
	-cpu max -kernel "$kernel" -initrd "$work/initrd.gz" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
	-append "console=ttyS0 panic=-1 quiet cgroup_no_v1=all stack.src=$srcdir stack.build=$builddir stack.mode=${VM_MODE:-test}" \
	</dev/null | tee "$log"
rc=$(sed -n 's/^STACK-VM-RESULT: \([0-9]*\).*/\1/p' "$log" | tail -1)
[ -n "$rc" ] || { echo "tests/vm: the VM gave no result"; exit 1; }
exit "$rc"
