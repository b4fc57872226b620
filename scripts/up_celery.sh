#!/usr/bin/env bash
# The CeleryExecutor deployment on one machine, as production runs it on many (`make up-celery`):
# API server, scheduler, DAG processor, triggerer and one Celery worker per queue (default,
# spotify, ml), against PostgreSQL (metadata, results) and Redis (broker). Ctrl-C stops them all.
# Component logs: $AIRFLOW_HOME/components/<name>.log (var/airflow-celery/components by default).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/celery_env.sh

db_name="${CELERY_DB_URL##*/}"
db_server="${CELERY_DB_URL%/*}/postgres"
if ! psql "$db_server" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
  echo "up-celery: creating database $db_name"
  psql "$db_server" -qc "CREATE DATABASE \"$db_name\""
fi
logs="$AIRFLOW_HOME/components"
mkdir -p "$logs"
airflow db migrate > "$logs/db-migrate.log" 2>&1 || { tail -20 "$logs/db-migrate.log"; exit 1; }
python -m spotify_agent_airflow.cli apply-settings
python -m spotify_agent_airflow.cli migrate-warehouse

pids=()
stop() {
  trap - INT TERM EXIT
  kill "${pids[@]}" 2> /dev/null || true
  wait "${pids[@]}" 2> /dev/null || true
}
trap stop INT TERM EXIT

start() {  # name, then the airflow command
  local name="$1"; shift
  airflow "$@" > "$logs/$name.log" 2>&1 &
  pids+=("$!")
  echo "up-celery: $name (pid $!): airflow $*"
}
start api-server api-server --port "$AIRFLOW__API__PORT"
start scheduler scheduler
start dag-processor dag-processor
start triggerer triggerer
IFS=, read -ra queues <<< "$CELERY_QUEUES"
port="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-8793}"
for queue in "${queues[@]}"; do
  # each worker serves its task logs on its own port (one machine, several workers)
  AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$port" start "worker-$queue" celery worker \
    --queues "$queue" --concurrency "$CELERY_WORKER_CONCURRENCY" --celery-hostname "$queue@%h"
  port=$((port + 1))
done
echo "up-celery: UI and REST API on $AIRFLOW__API__BASE_URL (users and passwords:" \
  "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
# Any component exiting stops the rest: a half-running deployment is worse than none.
wait -n "${pids[@]}"
echo "up-celery: a component exited; stopping the others (logs in $logs)" >&2
exit 1
