"""The audit row of an audio batch fits its column whatever the object keys are."""

from spotify_agent.ml.audio.analysis import batch_key


def test_a_batch_of_long_keys_is_named_by_its_first_key_and_count_within_250_characters():
    keys = [f"audio/{'artist ' * 40}/{n:022d}.flac" for n in range(50)]

    named = batch_key(keys)

    assert len(named) <= 250 and named.startswith("audio/artist") and named.endswith(" +49")
    assert batch_key(["audio/x.wav"]) == "audio/x.wav" and batch_key([]) == ""
