"""The audit row of an audio batch fits its column whatever the object keys are."""

from spotify_agent_airflow.operators.audio_analysis import _batch_key


def test_a_batch_of_long_keys_is_named_by_its_first_key_and_count_within_250_characters():
    keys = [f"audio/{'artist ' * 40}/{n:022d}.flac" for n in range(50)]

    named = _batch_key(keys)

    assert len(named) <= 250 and named.startswith("audio/artist") and named.endswith(" +49")
    assert _batch_key(["audio/x.wav"]) == "audio/x.wav" and _batch_key([]) == ""
