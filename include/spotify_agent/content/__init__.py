"""Content: playlist descriptions and artist digests written from warehouse facts.

Templates make every text deterministic and every sentence traceable to the numbers behind it; an
optional LLM may rewrite a text, but its answer is checked against the same facts (no invented
figures, no links, within Spotify's length) and quarantined when it fails.
"""
