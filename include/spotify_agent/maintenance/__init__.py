"""Maintenance jobs: health checks (more to come: backups, GDPR erasure, log rotation)."""
