#!/bin/sh
# PID 1 of the test VM's initramfs: load 9p, mount the host root read-only with fresh
# proc, sys, cgroup2, dev and tmpfs on top, and switch to it to run tests/vm/guest.sh.
export PATH=/bin
mount -t proc proc /proc
for ko in /mod/*.ko; do insmod "$ko" 2>/dev/null; done
src=$(sed -n 's/.*stack\.src=\([^ ]*\).*/\1/p' /proc/cmdline)
build=$(sed -n 's/.*stack\.build=\([^ ]*\).*/\1/p' /proc/cmdline)
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /newroot; then
	echo "STACK-VM-RESULT: 1 (cannot mount the host root)"
	exit 1
fi
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts 2>/dev/null
mount -t devpts devpts /newroot/dev/pts
# Writable scratch space on /run and /var/tmp only: the sources may live under /tmp on
# the host. Sources under /var/tmp or /run (a CI clone there) are moved onto the tmpfs
# so that it does not hide them.
kept=""
case "$src" in /var/tmp/* | /run/*)
	mkdir -p /keep && mount -o bind "/newroot$src" /keep && kept=1 ;;
esac
for d in run var/tmp; do mount -t tmpfs tmpfs "/newroot/$d"; done
if [ -n "$kept" ]; then
	mkdir -p "/newroot$src" && mount --move /keep "/newroot$src"
fi
umount /proc
exec switch_root /newroot /bin/sh "$src/tests/vm/guest.sh" "$src" "$build"
