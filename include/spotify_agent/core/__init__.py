"""Cross-cutting pieces every family uses: trace ids, run-conf models, audit and quarantine records."""
