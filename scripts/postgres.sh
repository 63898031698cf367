#!/usr/bin/env bash
# A throwaway PostgreSQL for the web UI's tests.
#
#   url=$(bash scripts/postgres.sh start DIR)   # installs PostgreSQL if missing, starts a cluster in DIR,
#                                               # prints its URL (log lines go to stderr)
#   bash scripts/postgres.sh stop DIR           # stops it and removes DIR
#
# The cluster listens on 127.0.0.1 on a free port, trusts local connections and has a superuser "golem".
# Run as root (as in CI), the server runs as the "postgres" system user, since PostgreSQL refuses root.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
	return 1
}

# as runs a command as the cluster's owner: the caller, or "postgres" when the caller is root.
as() {
	if [ "$(id -u)" = 0 ]; then
		su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	if ! bin=$(bindir); then
		echo "postgres.sh: installing PostgreSQL from Debian packages" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
		bin=$(bindir) || { echo "postgres.sh: pg_ctl not found after installing postgresql" >&2; exit 1; }
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
	fi
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	# A free port: start from a random one and step past any that answer.
	port=$((20000 + RANDOM % 30000))
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
		port=$((port + 1))
	done
	as "$bin/initdb" --pgdata="$dir/data" --username=golem --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2 ||
		as "$bin/initdb" --pgdata="$dir/data" --username=golem --auth=trust --encoding=UTF8 --no-locale >&2
	as "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/data/server.log" --wait --timeout=60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/data -c max_connections=200 -c fsync=off" start >&2 || {
		cat "$dir/data/server.log" >&2 || true
		exit 1
	}
	echo "postgres://golem@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	if [ -d "$dir/data" ] && bin=$(bindir); then
		as "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate stop >&2 || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
