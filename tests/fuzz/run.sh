#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for the given
# number of seconds (default 60) from its committed seed corpus. A crash fails. Locals start
# as a pattern, not zero, so a read of one never filled crashes here rather than by luck.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
out=tests/fuzz/out
mkdir -p "$out"
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Werror -ftrivial-auto-var-init=pattern -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -Isrc"
libs="$(pkg-config --cflags --libs yaml-0.1 json-c libcrypto) -lm"

# libcrypto and ldns are reached through the loader (src/util/lazylib.h), which opens them
# by the SONAME configure would find; the fuzzers also link them, so it finds them loaded.
soname() { objdump -p "$(clang -print-file-name="lib$1.so")" | awk '$1 == "SONAME" { print $2 }'; }
lazy() { echo "-DSTK_SONAME_$1=\"$(soname "$2")\" -DSTK_DEBPKG_$1=\"$3\" src/util/lazylib.c src/util/lazy_$4.c"; }

compose_srcs="compose/node.c compose/load.c compose/interp.c compose/dotenv.c
	compose/project.c compose/canon.c compose/canon_service.c compose/merge.c compose/extends.c compose/include.c
	compose/normalize.c compose/validate.c compose/graph.c compose/decode.c compose/model.c compose/emit.c
	src/util/str.c src/util/err.c src/util/bytes.c"

# shellcheck disable=SC2086
clang $flags -o "$out/fuzz_compose" tests/fuzz/fuzz_compose.c $compose_srcs $(lazy CRYPTO crypto libssl3 crypto) $libs

image_srcs="src/image/manifest.c src/image/ref.c src/util/str.c src/util/err.c"
# shellcheck disable=SC2086
clang $flags -o "$out/fuzz_manifest" tests/fuzz/fuzz_manifest.c $image_srcs $libs

# Layer and archive member names: what decides where a layer's entry is written.
# shellcheck disable=SC2086
clang $flags -o "$out/fuzz_tarpath" tests/fuzz/fuzz_tarpath.c src/image/tarpath.c src/util/str.c src/util/err.c

# The DNS server's message handling: what a container can send to the gateway.
dns_srcs="src/net/dns_msg.c src/net/dns_zone.c src/net/ipam.c src/net/ipam6.c src/util/str.c src/util/err.c"
# shellcheck disable=SC2086
clang $flags -D_GNU_SOURCE -o "$out/fuzz_dns" tests/fuzz/fuzz_dns.c $dns_srcs $(lazy LDNS ldns libldns3 ldns) \
	$(pkg-config --cflags --libs ldns)

# Dockerfiles from a build context and the words the builder expands.
# shellcheck disable=SC2086
clang $flags -o "$out/fuzz_dockerfile" tests/fuzz/fuzz_dockerfile.c src/build/dockerfile.c src/build/words.c \
	src/util/str.c src/util/err.c $(pkg-config --cflags --libs json-c)

for target in compose manifest tarpath dns dockerfile; do
	work="$out/corpus-$target"
	rm -rf "$work" && mkdir -p "$work"
	"$out/fuzz_$target" -max_total_time="$secs" -artifact_prefix="$out/" -max_len=16384 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "$work" "tests/fuzz/corpus/$target" \
		>"$out/fuzz_$target.log" 2>&1 || {
		tail -n 60 "$out/fuzz_$target.log"
		echo "fuzz_$target: FAILED"
		exit 1
	}
	grep -E 'stat::number_of_executed_units|Done' "$out/fuzz_$target.log" | tail -n 2
	echo "fuzz_$target: no crash in ${secs}s"
done
