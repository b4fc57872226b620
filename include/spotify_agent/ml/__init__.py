"""Recommendations the service computes itself: Spotify no longer serves them to new apps."""
