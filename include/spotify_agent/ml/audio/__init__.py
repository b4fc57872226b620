"""Audio analysis with librosa: features of each track's audio file, stored per analysis version."""
