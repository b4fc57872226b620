"""Rate limiting and fault injection, as a client meets them over HTTP."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest
from spotify_emulator_support import SMALL, Api

from spotify_emulator.config import ClientApp, EmulatorConfig
from spotify_emulator.faults import FaultSpec, InvalidFaultSpec
from spotify_emulator.testing import run_emulator


def test_rate_limit_answers_429_with_retry_after_and_recovers() -> None:
    with run_emulator(catalog=SMALL, rate_limit=5, rate_window_s=2.0) as emulator:
        api = Api(emulator)
        artist = f"/artists/{emulator.artist_ids()[0]}"
        api.token()  # the accounts service is not rate limited
        statuses = [api.get(artist).status_code for _ in range(5)]
        assert statuses == [200] * 5
        limited = api.get(artist)
        assert limited.status_code == 429
        assert limited.json() == {"error": {"status": 429, "message": "API rate limit exceeded"}}
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        # Neither logins nor the admin endpoints count against the window.
        assert (
            api.client.post(
                emulator.token_url,
                data={"grant_type": "client_credentials"},
                auth=(emulator.client_id, emulator.client_secret),
            ).status_code
            == 200
        )
        assert emulator.stats()["rate_limited"] == 1
        time.sleep(retry_after)
        assert api.get(artist).status_code == 200
        api.close()


def test_rate_limit_counts_per_app() -> None:
    config = EmulatorConfig(
        rate_limit=3,
        clients=(ClientApp("demo-client", "demo-secret"), ClientApp("second", "second-secret")),
    )
    with run_emulator(catalog=SMALL, config=config) as emulator:
        api = Api(emulator)
        artist = f"{emulator.api_url}/artists/{emulator.artist_ids()[0]}"
        for _ in range(3):
            api.get(artist)
        assert api.get(artist).status_code == 429
        other = httpx.post(
            emulator.token_url,
            data={"grant_type": "client_credentials"},
            auth=("second", "second-secret"),
        ).json()["access_token"]
        response = httpx.get(artist, headers={"Authorization": f"Bearer {other}"})
        assert response.status_code == 200
        api.close()


def test_forced_long_retry_after_blocks_until_reset() -> None:
    with run_emulator(catalog=SMALL) as emulator:
        emulator.set_rate_limit(2, retry_after_s=3600)
        api = Api(emulator)
        artist = f"/artists/{emulator.artist_ids()[0]}"
        assert [api.get(artist).status_code for _ in range(2)] == [200, 200]
        first = api.get(artist)
        assert first.status_code == 429 and first.headers["Retry-After"] == "3600"
        later = api.get(artist)  # still blocked: the app stays out for the whole hour
        assert later.status_code == 429 and 3590 <= int(later.headers["Retry-After"]) <= 3600
        emulator.set_rate_limit(None)
        assert api.get(artist).status_code == 200
        api.close()


def _statuses(api: Api, path: str, count: int) -> list[int]:
    return [api.get(path).status_code for _ in range(count)]


def test_faults_replay_per_seed_and_hit_the_configured_rate() -> None:
    with run_emulator(catalog=SMALL) as emulator:
        api = Api(emulator)
        api.token()
        artist = f"/artists/{emulator.artist_ids()[0]}"
        emulator.set_faults("rate=0.25,seed=7,kinds=429+500+502+503")
        first = _statuses(api, artist, 400)
        emulator.set_faults("rate=0.25,seed=7,kinds=429+500+502+503")
        replay = _statuses(api, artist, 400)
        emulator.set_faults("rate=0.25,seed=8,kinds=429+500+502+503")
        other_seed = _statuses(api, artist, 400)
        assert replay == first
        assert other_seed != first
        counts = Counter(first)
        failed = len(first) - counts[200]
        assert 0.18 <= failed / len(first) <= 0.32, counts
        assert {429, 500, 502, 503} <= counts.keys()
        faults = emulator.stats()["faults"]
        assert sum(faults.values()) == failed * 2 + (len(other_seed) - other_seed.count(200))
        api.close()


def test_injected_429_carries_retry_after_and_error_body() -> None:
    with run_emulator(catalog=SMALL, faults="rate=1,seed=1,kinds=429,retry_after=7") as emulator:
        api = Api(emulator)
        response = api.get(f"/artists/{emulator.artist_ids()[0]}")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["error"]["status"] == 429
        api.close()


@pytest.mark.parametrize("kind", ["truncated", "malformed"])
def test_body_faults_send_200_with_invalid_json(kind: str) -> None:
    with run_emulator(catalog=SMALL) as emulator:
        api = Api(emulator)
        path = f"/albums/{emulator.album_ids()[0]}"
        clean = api.get(path).content
        emulator.set_faults(f"rate=1,seed=3,kinds={kind}")
        for _ in range(5):
            damaged = api.get(path)
            assert damaged.status_code == 200
            assert damaged.content != clean
            with pytest.raises(json.JSONDecodeError):
                json.loads(damaged.content)
            if kind == "truncated":
                assert clean.startswith(damaged.content)
        assert emulator.stats()["faults"] == {kind: 5}
        api.close()


def test_missing_fields_removes_one_identifying_key() -> None:
    with run_emulator(catalog=SMALL) as emulator:
        api = Api(emulator)
        path = f"/artists/{emulator.artist_ids()[0]}"
        clean = api.get(path).json()
        emulator.set_faults("rate=1,seed=5,kinds=missing_fields")
        damaged = api.get(path)
        assert damaged.status_code == 200
        body = damaged.json()  # still valid JSON
        assert len(clean.keys() - body.keys()) == 1
        assert clean.keys() - body.keys() <= {"id", "name", "uri"}
        api.close()


def test_slow_fault_times_the_client_out_but_applies_the_write() -> None:
    """What makes retried POSTs dangerous: the server did the work, the client saw a timeout."""
    with run_emulator(catalog=SMALL) as emulator:
        api = Api(emulator)
        playlist = api.own_playlist()
        uri = f"spotify:track:{emulator.track_ids()[0]}"
        emulator.set_faults("rate=1,seed=1,kinds=slow,slow_s=1.0")
        with pytest.raises(httpx.ReadTimeout):
            api.call(
                "POST",
                f"/playlists/{playlist}/items",
                user=True,
                json={"uris": [uri]},
                timeout=0.3,
            )
        emulator.set_faults(None)
        assert api.ok("GET", f"/playlists/{playlist}/items", user=True)["total"] == 1
        api.close()


def test_status_faults_reject_before_anything_is_applied() -> None:
    with run_emulator(catalog=SMALL) as emulator:
        api = Api(emulator)
        playlist = api.own_playlist()
        emulator.set_faults("rate=1,seed=1,kinds=503")
        uri = f"spotify:track:{emulator.track_ids()[0]}"
        response = api.call("POST", f"/playlists/{playlist}/items", user=True, json={"uris": [uri]})
        assert response.status_code == 503
        emulator.set_faults("")
        assert api.ok("GET", f"/playlists/{playlist}/items", user=True)["total"] == 0
        api.close()


def test_admin_and_token_endpoints_are_not_faulted_by_default() -> None:
    with run_emulator(catalog=SMALL, faults="rate=1,seed=1,kinds=500") as emulator:
        before = emulator.stats()  # admin calls are never faulted ...
        assert before["total_calls"] == 0  # ... nor counted
        api = Api(emulator)
        api.token()  # the login works although every Web API call fails
        assert api.get(f"/artists/{emulator.artist_ids()[0]}").status_code == 500
        emulator.set_faults("rate=1,seed=1,kinds=500,token=1")
        login = api.client.post(
            emulator.token_url,
            data={"grant_type": "client_credentials"},
            auth=(emulator.client_id, emulator.client_secret),
        )
        assert login.status_code == 500
        stats = emulator.stats()
        assert stats["by_route"]["POST /api/token"] == {"200": 1, "500": 1}
        assert stats["by_route"]["GET /v1/artists/{artist_id}"] == {"500": 1}
        api.close()


def test_fault_spec_string_form() -> None:
    spec = FaultSpec.parse("rate=0.2,seed=7,kinds=429+500+503+truncated")
    assert spec.rate == 0.2 and spec.seed == 7
    assert spec.kinds == ("429", "500", "503", "truncated")
    assert not spec.token
    assert FaultSpec.parse(spec.render()) == spec
    for disabled in ("", "none", "rate=0", None):
        assert not FaultSpec.parse(disabled).enabled
    for bad in ("rate=2", "kinds=404", "rate", "speed=3", "rate=x"):
        with pytest.raises(InvalidFaultSpec):
            FaultSpec.parse(bad)


def test_admin_refuses_a_bad_fault_spec() -> None:
    with run_emulator(catalog=SMALL) as emulator:
        response = httpx.post(f"{emulator.base_url}/_emulator/faults", json={"spec": "kinds=404"})
        assert response.status_code == 400
        assert "404" in response.json()["error"]["message"]
