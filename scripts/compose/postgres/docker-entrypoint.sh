#!/usr/bin/env bash
# The official postgres image's entry point, in short, for the local stand-in (see Dockerfile):
# on the first start with an empty PGDATA, initdb with POSTGRES_USER (default postgres) and
# POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), `host all all all` with
# scram-sha-256 in pg_hba.conf, POSTGRES_DB (default POSTGRES_USER) created, then
# /docker-entrypoint-initdb.d/*.sh and *.sql run against a server listening on the socket only.
# Each variable may come from a file instead (POSTGRES_PASSWORD_FILE...). The server runs as
# `postgres`. Passwords are never printed.
set -Eeo pipefail

file_env() {  # VAR [DEFAULT]: $VAR, or the content of $VAR_FILE, or DEFAULT
  local var=$1 file_var="${1}_FILE" def=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo >&2 "error: both $var and $file_var are set (but are exclusive)"
    exit 1
  fi
  local val=$def
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!file_var:-}" ]; then
    val=$(<"${!file_var}")
  fi
  export "$var"="$val"
  unset "$file_var"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_db_directories() {
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA" || :
  chmod 03775 /var/run/postgresql || :
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_minimum_env() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
MSG
    exit 1
  fi
}

init_database_dir() {
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as in the original
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    $POSTGRES_INITDB_ARGS "$@"
}

setup_hba_conf() {
  if [ "${1:-}" = postgres ]; then shift; fi
  local auth=$POSTGRES_HOST_AUTH_METHOD
  if [ -z "$auth" ]; then
    auth=$(postgres -C password_encryption "$@")
  fi
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
}

temp_server_start() {
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
}

psql_run() {
  PGPASSWORD=$POSTGRES_PASSWORD psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
    --no-password --no-psqlrc "$@"
}

setup_db() {
  local exists
  exists=$(psql_run --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<<"
    SELECT 1 FROM pg_database WHERE datname = :'db';")
  if [ -z "$exists" ]; then
    psql_run --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    echo
  fi
}

process_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi
        ;;
      *.sql) echo "$0: running $f"; psql_run --dbname "$POSTGRES_DB" -f "$f"; echo ;;
      *) [ ! -e "$f" ] || echo "$0: ignoring $f" ;;
    esac
  done
}

main() {
  if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
  fi
  if [ "$1" = postgres ]; then
    setup_env
    create_db_directories
    if [ "$(id -u)" = 0 ]; then
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_minimum_env
      init_database_dir
      setup_hba_conf "$@"
      temp_server_start
      setup_db
      process_init_files
      pg_ctl -D "$PGDATA" -m fast -w stop
      echo
      echo 'PostgreSQL init process complete; ready for start up.'
      echo
    else
      echo
      echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
      echo
    fi
  fi
  exec "$@"
}

main "$@"
