"""Airflow listeners of the project: the audit row of every task attempt, and its trace id in logs."""
