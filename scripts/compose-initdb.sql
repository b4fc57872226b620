-- docker-compose.yaml: the warehouse lives beside Airflow's metadata on the same server.
CREATE DATABASE warehouse OWNER airflow;
