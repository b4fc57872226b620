"""Cross-cutting pieces every family uses: trace ids, run-conf models, audit and quarantine
records, metrics, the object store, the Airflow REST client and PagerDuty events."""
