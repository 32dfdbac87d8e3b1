#!/bin/sh
# Loading a generated 1,000-service project: `stack config` against Debian's
# `docker-compose config`, timed by hyperfine in the same run. Run by hand:
#   sh bench/compose_config.sh [SERVICES]
# Needs: apt-get install docker-compose hyperfine. Prints hyperfine's summary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
stack=${STACK_BIN:-$here/../stack}
n=${1:-1000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 "$here/gen_project.py" "$n" >"$dir/compose.yaml"
cd "$dir"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); $(date -u +%F)"
echo "project: $n services, $(wc -l <compose.yaml) lines"
"$stack" -p bench config >/dev/null
docker-compose -p bench config >/dev/null
hyperfine -N -w 3 -r "${RUNS:-30}" --export-markdown "$dir/stack.md" \
	"$stack -p bench config" "$stack -p bench config -q"
hyperfine -N -w 1 -r "${DC_RUNS:-5}" --export-markdown "$dir/dc.md" \
	"docker-compose -p bench config" "docker-compose -p bench config -q"
cat "$dir/stack.md" "$dir/dc.md"
