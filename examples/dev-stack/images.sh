#!/bin/sh
# Makes the images of examples/dev-stack available to stack. Each is pulled; when it
# cannot be (no registry access), a stand-in is built from Debian packages with
# tests/images/build.py (the test images: busybox from busybox-static, Postgres 15 and
# Redis 7 from bookworm; its cache is reused when present) and loaded under the same
# name with `stack load` and `stack tag`, which this script says on stderr.
#
#   sh examples/dev-stack/images.sh            STACK="stack --root DIR" to use another root
#   STACK_DEV_STACK_NO_PULL=1                  skips the pull (straight to the stand-ins)
set -eu

STACK=${STACK:-stack}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# name in compose.yaml, then the test image standing in for it
for pair in busybox:1.35=busybox postgres:15=postgres redis:7=redis; do
	ref=${pair%=*} standin=${pair#*=}
	if $STACK image inspect "$ref" >/dev/null 2>&1; then
		echo "$ref: already in the store"
		continue
	fi
	if [ -z "${STACK_DEV_STACK_NO_PULL:-}" ] && $STACK pull -q "$ref" >/dev/null 2>"$TMP/pull.err"; then
		echo "$ref: pulled"
		continue
	fi
	why=$(tail -n 1 "$TMP/pull.err" 2>/dev/null || true)
	echo "images.sh: cannot pull $ref${why:+ ($why)}; building a stand-in from Debian packages (tests/images/build.py $standin)" >&2
	layout=$(python3 "$SRC/tests/images/build.py" "$standin" | tail -n 1)
	tar -C "$layout" -cf "$TMP/$standin.tar" .
	loaded=$($STACK load -i "$TMP/$standin.tar")
	id=$(printf '%s\n' "$loaded" | sed -n 's/^Loaded image ID: //p; s/^Loaded image: //p' | tail -n 1)
	if [ -z "$id" ]; then
		echo "images.sh: stack load of $standin named no image: $loaded" >&2
		exit 1
	fi
	$STACK tag "$id" "$ref"
	echo "$ref: stand-in loaded (Debian's $standin, not the upstream image)" >&2
	echo "$ref: loaded"
done
