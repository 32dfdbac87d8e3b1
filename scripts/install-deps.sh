#!/bin/sh
# Installs every Debian package the build and the tests need. Idempotent; run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive

BUILD="build-essential autoconf automake libtool pkg-config
  libyaml-dev libjson-c-dev libuv1-dev libcurl4-openssl-dev libseccomp-dev libcap-dev
  libarchive-dev libnl-3-dev libnl-route-3-dev libnftables-dev libssl-dev libldns-dev"
TEST="libcmocka-dev python3 python3-pytest python3-yaml clang libclang-rt-14-dev clang-format
  busybox-static iproute2 nftables docker-registry apache2-utils debootstrap util-linux zsh
  qemu-system-x86 linux-image-amd64 openssl ca-certificates umoci"
# Only for bench/ (run by hand): the peers stack is compared with (runtime, image pull).
BENCH="crun skopeo podman
  docker.io docker-compose podman-compose runc"
# Only for README's first command: build, and make the example's stand-in images.
EXAMPLE="python3 debootstrap busybox-static"

case "${1:-all}" in
build) PKGS="$BUILD" ;;
example) PKGS="$BUILD $EXAMPLE" ;;
bench) PKGS="$BUILD $TEST $BENCH" ;;
*) PKGS="$BUILD $TEST" ;;
esac

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing
fi
