# Environment for running this project's Airflow locally. Source it from the project root:
#   . scripts/env.sh && airflow dags list
# Every value can be overridden by exporting it before sourcing this file.
PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
# Airflow starts its components as `airflow ...` subprocesses: the venv must be on PATH.
case ":$PATH:" in *":$PROJECT_DIR/.venv/bin:"*) ;; *) export PATH="$PROJECT_DIR/.venv/bin:$PATH" ;; esac
export SPOTIFY_AGENT_HOME="${SPOTIFY_AGENT_HOME:-$PROJECT_DIR}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PROJECT_DIR/var/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$PROJECT_DIR/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$PROJECT_DIR/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
# LocalExecutor forks `parallelism` workers up front (~134 MB each): 4 suits a laptop.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="${AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME:-0.1}"
# The UI and REST API listen on loopback only: set AIRFLOW__API__HOST=0.0.0.0 to serve other
# machines (behind TLS and real users, see docs/DEPLOYMENT.md).
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# One setting moves the UI/API port everywhere (AIRFLOW_PORT is the older name of it): the API
# server binds it, the tasks reach the execution API on it, and links and e-mails are built
# from the base URL. Behind a proxy, set AIRFLOW__API__BASE_URL to the address users open.
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-${AIRFLOW_PORT:-8080}}"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$AIRFLOW__API__PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://127.0.0.1:$AIRFLOW__API__PORT/execution/}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
