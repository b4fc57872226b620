"""One module of thin operators per DAG family: each `execute` builds its ports from hooks and
calls one use case in `spotify_agent` (docs/ARCHITECTURE.md has the table)."""
