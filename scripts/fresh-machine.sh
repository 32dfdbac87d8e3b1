#!/bin/sh
# Proves the cold path by hand: a fresh Debian 12 root filesystem (debootstrap, with this
# machine's apt sources), a `git clone` of this repository inside it, and the README's
# test command run there as CI would, with nothing installed or cached beforehand.
#
#     sh scripts/fresh-machine.sh [LOG]        (root; about 30 min; default LOG fresh.log)
#
# The root is a mount point of its own, as in a container (the engine needs / to be a
# mount: tests/integration/test_engine_chroot.py), in private mount and pid namespaces;
# /proc is the new pid namespace's, /sys and /dev are the host's. Removed afterwards.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
log=${1:-fresh.log}
case "$log" in /*) ;; *) log="$repo/$log" ;; esac
work=$(mktemp -d /var/tmp/stack-fresh.XXXXXX)
root="$work/root"
trap 'rm -rf "$work"' EXIT

# The mirror of this machine's apt sources (deb822 or one-line format), never a name of ours.
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print ($2 ~ /^\[/) ? $3 : $2; exit }' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
[ -n "$mirror" ] || { echo "fresh-machine: no Debian mirror in the apt sources" >&2; exit 1; }

debootstrap --variant=minbase --include=git,ca-certificates bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$root/debootstrap/debootstrap.log" "$work/debootstrap.log" >&2 || true; exit 1; }
# What a container of Debian 12 has that debootstrap does not write: the machine's apt
# configuration, resolv.conf, hosts.
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || cp /etc/apt/sources.list "$root/etc/apt/"
cp /etc/apt/apt.conf.d/* "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
mkdir -p "$root/src-repo"

unshare --mount --pid --fork --propagation private sh -c "
set -eu
mount --bind '$root' '$root'
mount --bind '$repo' '$root/src-repo'
mount -t proc proc '$root/proc'
mount --rbind /sys '$root/sys'
mount --rbind /dev '$root/dev'
mount -t tmpfs tmpfs '$root/run'
mount -t tmpfs tmpfs '$root/tmp'
chroot '$root' /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin CI=true sh -c '
	set -e
	git clone -q /src-repo /root/stack && cd /root/stack
	echo \"fresh clone of \$(git rev-parse --short HEAD); image cache: \$(ls -d /root/.cache/stack-test-images 2>&1)\"
	start=\$(date +%s)
	rc=0; sh scripts/test.sh || rc=\$?
	echo \"scripts/test.sh exited \$rc after \$((\$(date +%s) - start)) s\"
	exit \$rc'
" >"$log" 2>&1
