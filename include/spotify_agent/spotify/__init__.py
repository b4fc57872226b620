"""Spotify Web API domain: typed payloads, tier-aware batching and paging, playlist diffs.

Functions here take a spotipy-like client (see :class:`~spotify_agent.spotify.api.SpotifyClient`)
and never import Airflow; the hook in ``spotify_agent_airflow.hooks.spotify`` builds the client.
"""
