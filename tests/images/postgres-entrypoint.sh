#!/bin/sh
# Entrypoint of the postgres test image, after the official image's behaviour: on the
# first start initialise $PGDATA from POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB,
# then run the server as the postgres user, listening on all addresses.
set -eu
PGBIN=/usr/lib/postgresql/15/bin
: "${PGDATA:=/var/lib/postgresql/data}"

as_postgres() {
	setpriv --reuid=postgres --regid=postgres --init-groups "$@"
}

if [ "${1:-}" = postgres ]; then
	shift
	mkdir -p "$PGDATA" /run/postgresql
	chown postgres:postgres "$PGDATA" /run/postgresql
	chmod 700 "$PGDATA"
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		user=${POSTGRES_USER:-postgres}
		db=${POSTGRES_DB:-$user}
		if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
			echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
			exit 1
		fi
		pwfile=$(mktemp)
		printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
		chown postgres "$pwfile"
		as_postgres "$PGBIN/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" \
			--auth-local=trust --auth-host=scram-sha-256 >/dev/null
		rm -f "$pwfile"
		echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
		echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
		if [ "$db" != postgres ]; then
			as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
			as_postgres "$PGBIN/psql" -v ON_ERROR_STOP=1 -U "$user" -d postgres \
				-c "CREATE DATABASE \"$db\"" >/dev/null
			as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
		fi
		echo "PostgreSQL init process complete; ready for start up."
	fi
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$PGDATA" "$@"
fi
exec "$@"
