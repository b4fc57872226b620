"""Maintenance jobs: health checks, warehouse backups and restore, GDPR erasure, log rotation."""
