#!/bin/sh
# Formats the C sources (src/, compose/, tests/unit/, tests/fuzz/) with clang-format and
# the checked-in .clang-format. With --check, changes nothing: prints the difference and
# exits 1 if any file is not formatted (scripts/test.sh runs this).
set -eu
cd "$(dirname "$0")/.."
check=false
case "${1:-}" in
--check) check=true ;;
"") ;;
*) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac
# clang-format's output differs between major versions: the one Debian 12 ships.
cf=$(command -v clang-format-14 || command -v clang-format) ||
	{ echo "scripts/format.sh: clang-format not found: install the Debian package clang-format" >&2; exit 2; }

files=$(find src compose tests/unit tests/fuzz -name '*.[ch]' -type f | sort)
if ! $check; then
	# shellcheck disable=SC2086
	"$cf" -i --style=file $files
	exit 0
fi
bad=0
for f in $files; do
	if ! "$cf" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" -; then
		bad=$((bad + 1))
	fi
done
if [ "$bad" -gt 0 ]; then
	echo "scripts/format.sh: $bad file(s) not formatted: run scripts/format.sh" >&2
	exit 1
fi
