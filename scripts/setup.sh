#!/usr/bin/env bash
# The one place that prepares a machine for wxface: the virtualenv, the project and its test
# dependencies, and the services the tests and the demo talk to (RabbitMQ, PostgreSQL).
# Used by `make test`, `make demo` and `make bench`. Idempotent: a second run only checks.
#
#   scripts/setup.sh [--no-postgres] [--plugins] [--bench]
#     --no-postgres  RabbitMQ only, for the demo (its embedded SQLite store needs no server,
#                    and it needs no promtool)
#     --plugins      also enable RabbitMQ's management and prometheus plugins
#     --bench        also the load generator of `make bench` (Debian's wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

want_postgres=1
want_plugins=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --no-postgres) want_postgres=0 ;;
    --plugins) want_plugins=1 ;;
    --bench) want_bench=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=0
apt_install() {
  if ! is_root; then
    say "missing: $*; install it with: sudo apt-get install -y $*"; exit 1
  fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_for() {  # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 "$secs"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  say "$what did not come up within ${secs}s"; return 1
}

python_venv() {
  local py=${PYTHON:-python3.11}
  command -v "$py" >/dev/null 2>&1 || py=python3
  if ! "$py" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    say "Python 3.11 is required (found $("$py" --version 2>&1)); install python3.11"; exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$py" -m venv .venv; }
  fi
  # reinstall only when pyproject.toml changed since the last install
  local stamp=.venv/.wxface-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing wxface and its test dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[test,bench]'
    touch "$stamp"
  fi
}

rabbitmq() {
  if ! command -v rabbitmqctl >/dev/null 2>&1; then apt_install rabbitmq-server; fi
  if ! rabbitmqctl -q await_startup >/dev/null 2>&1; then
    say "starting RabbitMQ"
    if is_root; then
      (rabbitmq-server -detached >/dev/null 2>&1 || service rabbitmq-server start >/dev/null 2>&1) || true
    else
      say "RabbitMQ is stopped; start it with: sudo rabbitmq-server -detached"; exit 1
    fi
    wait_for RabbitMQ 60 rabbitmqctl -q await_startup
  fi
  # a test that stopped only the app (rabbitmqctl stop_app) leaves the node up but useless
  if ! rabbitmqctl -q list_queues name >/dev/null 2>&1; then
    say "RabbitMQ node is up but the app is stopped; starting it"
    rabbitmqctl -q start_app
  fi
  if [ "$want_plugins" = 1 ]; then
    rabbitmq-plugins -q enable rabbitmq_management rabbitmq_prometheus >/dev/null
  fi
}

postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL"
    if is_root && command -v pg_ctlcluster >/dev/null 2>&1; then
      local v; v=$(ls /etc/postgresql | sort -V | tail -1)
      pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    else
      say "PostgreSQL is not running on 127.0.0.1:5432; start it (pg_ctlcluster <ver> main start)"; exit 1
    fi
    wait_for PostgreSQL 60 pg_isready -q -h 127.0.0.1 -p 5432
  fi
}

promtool_tool() {  # promtool checks the alert rules (tests/deploy); only the tool is wanted
  command -v promtool >/dev/null 2>&1 && return 0
  if ! is_root; then
    say "promtool is missing (tests/deploy skip it): sudo apt-get install -y --no-install-recommends prometheus"
    return 0
  fi
  # keep the package's Prometheus server from being started: policy-rc.d 101 = "do not start"
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; added=1; fi
  if ! apt_install --no-install-recommends prometheus; then
    if [ "$added" = 1 ]; then rm -f "$policy"; fi
    exit 1
  fi
  if [ "$added" = 1 ]; then rm -f "$policy"; fi
}

bench_tools() {
  if ! command -v wrk >/dev/null 2>&1; then apt_install wrk; fi
}

python_venv
rabbitmq
if [ "$want_bench" = 1 ]; then bench_tools; fi
# the test suite's tools; the demo (--no-postgres) needs neither PostgreSQL nor promtool
if [ "$want_postgres" = 1 ]; then postgres; promtool_tool; fi
say "ready"
