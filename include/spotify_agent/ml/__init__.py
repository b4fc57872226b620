"""Machine learning: audio analysis (``ml.audio``), recommender training and the daily
recommendations, which the service computes itself: Spotify no longer serves them to new apps."""
