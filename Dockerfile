# Production image: the official Airflow image plus this project, installed from the same lock.
# Build: docker build -t spotify-agent-airflow .   (not an Astro Runtime image: docs/CONFIGURATION.md)
FROM apache/airflow:3.3.2-python3.11

# The lock pins every package; the project folders are importable by their package names.
COPY --chown=airflow:root requirements.txt constraints.txt /opt/airflow/
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt -c /opt/airflow/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root airflow_settings.yaml /opt/airflow/airflow_settings.yaml

ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins \
    SPOTIFY_AGENT_HOME=/opt/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
