# Environment of the local CeleryExecutor deployment (`make up-celery`). Source it from the
# project root after scripts/env.sh; every value can be overridden by exporting it first.
#   . scripts/env.sh && . scripts/celery_env.sh && airflow celery worker --queues ml
# PostgreSQL (metadata DB and Celery results) and Redis (broker) must be running: README.md.
PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export AIRFLOW_HOME="${CELERY_AIRFLOW_HOME:-$PROJECT_DIR/var/airflow-celery}"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
CELERY_DB_URL="${CELERY_DB_URL:-postgresql://postgres@127.0.0.1:5432/airflow_celery}"
CELERY_DB_URL="${CELERY_DB_URL/+psycopg2/}"  # a libpq URL (psql reads it too)
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${CELERY_DB_URL/postgresql:/postgresql+psycopg2:}"
export AIRFLOW__CELERY__RESULT_BACKEND="db+${CELERY_DB_URL/postgresql:/postgresql+psycopg2:}"
export AIRFLOW__CELERY__BROKER_URL="${AIRFLOW__CELERY__BROKER_URL:-redis://127.0.0.1:6379/1}"
# The queues the workers consume; tasks are routed to them by DAG family
# (plugins/spotify_agent_airflow/queues.py). health_check asks that each has a worker.
export CELERY_QUEUES="${CELERY_QUEUES:-default,spotify,ml}"
# The API server's port and URLs come from scripts/env.sh (AIRFLOW__API__PORT).
# Every component signs and checks the tasks' tokens with one secret, made once per home.
mkdir -p "$AIRFLOW_HOME"
if [ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ]; then
  [ -s "$AIRFLOW_HOME/jwt_secret" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$AIRFLOW_HOME/jwt_secret")
  AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$AIRFLOW_HOME/jwt_secret")"
  export AIRFLOW__API_AUTH__JWT_SECRET
fi
# One task per core per worker by default; the ml worker's tasks pin their own threads.
export CELERY_WORKER_CONCURRENCY="${CELERY_WORKER_CONCURRENCY:-2}"
