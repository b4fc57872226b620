"""listening_ingest end to end: recently-played from the emulator and files landed in the store."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, func, select

from spotify_agent.warehouse.schema import (
    catalogue_tracks,
    ingested_files,
    listening_cursors,
    listening_events,
    quarantine,
)
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.receivers import StatsdReceiver, run_statsd_receiver
from tests.statsd_mapping import assert_every_line_maps

TRACK = "4uLU6hMCjMI75M1A2tKUQC"


def _env(emulator: EmulatorHandle) -> dict[str, str]:
    return {"AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(emulator.connection())}


def _land(airflow_home) -> None:
    landing = airflow_home.objects_path / "landing" / "listening" / "2026-11-26"
    landing.mkdir(parents=True, exist_ok=True)
    lines = [
        {
            "user_id": "file-user",
            "track_id": TRACK,
            "played_at": "2026-11-25T08:00:00Z",
            "ms_played": 1000,
        },
        {
            "user_id": "file-user",
            "track_id": TRACK,
            "played_at": "2026-11-25T08:04:00Z",
            "ms_played": 2000,
        },
        {"user_id": "file-user", "track_id": "not-a-track", "played_at": "2026-11-25T08:08:00Z"},
    ]
    (landing / "events.jsonl").write_text(
        "\n".join(json.dumps(line) for line in lines) + "\n{broken\n"
    )
    table = pa.table(
        {
            # The first row repeats a JSONL event: it must be stored once.
            "user_id": ["file-user", "file-user"],
            "track_id": [TRACK, TRACK],
            "played_at": [
                datetime(2026, 11, 25, 8, tzinfo=UTC),
                datetime(2026, 11, 25, 9, tzinfo=UTC),
            ],
            "ms_played": [1000, 3000],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    (landing / "events.parquet").write_bytes(sink.getvalue())
    # Suffixes in capitals are event files too.
    more = {"user_id": "file-user", "track_id": TRACK, "played_at": "2026-11-25T07:00:00Z"}
    (landing / "MORE.JSONL").write_text(json.dumps(more) + "\n")
    # A link to a file outside the landing folder: refused, never read.
    outside = airflow_home.objects_path.parent / "outside-landing.jsonl"
    outside.write_text(json.dumps({**more, "user_id": "outside-user"}) + "\n")
    (landing / "linked.jsonl").symlink_to(outside)


def _count(airflow_home, table, *where) -> int:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        value = connection.execute(
            select(func.count()).select_from(table).where(*where)
        ).scalar_one()
    engine.dispose()
    return int(value)


@pytest.fixture(scope="module")
def emulator() -> EmulatorHandle:
    with run_emulator(
        catalog=CatalogSpec(seed=21, n_artists=20, n_users=2, events_per_user=120)
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def statsd() -> Iterator[StatsdReceiver]:
    """What the module's first run sends to statsd (only that run is pointed at it)."""
    with run_statsd_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def first_run(airflow_home, emulator, statsd):
    _land(airflow_home)
    env = {**_env(emulator), **statsd.env()}
    result = airflow_home.airflow("dags", "test", "listening_ingest", extra_env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


def test_recently_played_and_files_land_in_listening_events(
    airflow_home, emulator, first_run
) -> None:
    user = emulator.user_id
    # Spotify keeps the latest 50 plays; the first run takes all of them.
    assert _count(airflow_home, listening_events, listening_events.c.user_id == user) == 50
    assert _count(airflow_home, listening_cursors, listening_cursors.c.user_id == user) == 1
    # 2 good JSONL lines + 1 new Parquet row + 1 from MORE.JSONL; the repeated play is stored once.
    assert _count(airflow_home, listening_events, listening_events.c.user_id == "file-user") == 4
    assert _count(airflow_home, ingested_files) == 3
    # Each played track joins the catalogue with the artist it counts for in the aggregates.
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        played = set(
            connection.execute(
                select(listening_events.c.track_id).where(listening_events.c.user_id == user)
            ).scalars()
        )
        catalogue = {
            track: artist
            for track, artist in connection.execute(
                select(catalogue_tracks.c.track_id, catalogue_tracks.c.artist_id)
            )
        }
    engine.dispose()
    assert played <= set(catalogue)
    assert all(catalogue[t] == emulator.catalog.tracks[t].artist_ids[0] for t in played)


def test_bad_lines_are_quarantined_with_file_and_line(airflow_home, first_run) -> None:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(quarantine.c.source, quarantine.c.field).where(
                quarantine.c.source.like("landing/listening/%")
            )
        ).all()
    engine.dispose()
    assert sorted(rows) == [
        ("landing/listening/2026-11-26/events.jsonl:3", "track_id"),
        ("landing/listening/2026-11-26/events.jsonl:4", None),
        ("landing/listening/2026-11-26/linked.jsonl", "object_key"),
    ]


def test_a_linked_file_is_refused_unread_and_counted(airflow_home, first_run) -> None:
    assert _count(airflow_home, listening_events, listening_events.c.user_id == "outside-user") == 0
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        reason = connection.execute(
            select(quarantine.c.reason).where(quarantine.c.field == "object_key")
        ).scalar_one()
    engine.dispose()
    assert reason == "a symbolic link, not a file: not read"
    assert "1 refused files" in first_run.stdout  # the run's totals line


def test_the_runs_figures_reach_the_dashboard(first_run, statsd, tmp_path) -> None:
    # Rows, duplicates, quarantined lines, Spotify calls and their latency, as Prometheus
    # stores them through the shipped statsd_exporter mapping and the dashboard reads them.
    series = assert_every_line_maps(statsd.lines)
    assert_queries_return_data(
        panel_queries(
            "Rows written",
            "Quarantined",
            "Duplicates skipped",
            "Spotify calls",
            "Spotify 429s and 5xx",
            "Spotify call latency, p95 per run",
        ),
        series,
        tmp_path,
    )


def test_a_second_run_reads_nothing_twice(airflow_home, emulator, first_run) -> None:
    before = _count(airflow_home, listening_events)
    again = airflow_home.airflow("dags", "test", "listening_ingest", extra_env=_env(emulator))
    assert again.returncode == 0, again.stdout[-4000:]
    assert _count(airflow_home, listening_events) == before
    assert _count(airflow_home, ingested_files) == 3
    # Files read (or refused) before are not even listed: the per-file task maps over nothing.
    assert "ingest_file" in again.stdout and "map has 0 values to expand" in again.stdout


def test_a_changed_file_is_read_again_and_only_its_new_events_are_added(
    airflow_home, emulator, first_run
) -> None:
    path = airflow_home.objects_path / "landing" / "listening" / "2026-11-26" / "events.jsonl"
    line = {"user_id": "file-user", "track_id": TRACK, "played_at": "2026-11-25T10:00:00Z"}
    path.write_text(path.read_text() + json.dumps(line) + "\n")
    before = _count(airflow_home, listening_events, listening_events.c.user_id == "file-user")
    result = airflow_home.airflow("dags", "test", "listening_ingest", extra_env=_env(emulator))
    assert result.returncode == 0, result.stdout[-4000:]
    assert (
        _count(airflow_home, listening_events, listening_events.c.user_id == "file-user")
        == before + 1
    )
    assert _count(airflow_home, ingested_files) == 4


def test_unknown_source_is_refused_before_the_run(airflow_home, emulator) -> None:
    result = airflow_home.airflow(
        "dags",
        "test",
        "listening_ingest",
        "--conf",
        json.dumps({"sources": ["kafka"]}),
        extra_env=_env(emulator),
    )
    assert result.returncode != 0
    assert "Invalid input for param sources" in result.stdout + result.stderr


def test_a_file_that_teaches_the_catalogue_a_track_re_announces_the_days_set_aside(
    airflow_home, emulator, first_run, tmp_path
) -> None:
    """A play of a track nobody played through the API was set aside by its day's aggregation;
    a later file names the track: the run looks it up and summarise announces that day too."""
    from functools import partial

    from spotify_agent.analytics.streaming_aggregation import aggregate_listening
    from spotify_agent.core.audit import Attempt
    from spotify_agent.maintenance.erasure import erased_among
    from spotify_agent.maintenance.erasure_keys import Keyring

    track = next(t for t in emulator.track_ids() if _count(
        airflow_home, catalogue_tracks, catalogue_tracks.c.track_id == t) == 0)  # fmt: skip
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.begin() as connection:
        connection.execute(listening_events.insert(), [{
            "user_id": "early-user", "track_id": track, "source": "landed-before",
            "played_at": datetime(2026, 11, 10, 9, tzinfo=UTC), "run_id": "seed",
            "ingested_at": datetime(2026, 11, 11, tzinfo=UTC),
        }])  # fmt: skip
    attempt = Attempt("streaming_aggregation", "manual__seed", "ab" * 16, task_id="aggregate")
    set_aside = aggregate_listening(
        engine, datetime(2026, 11, 10).date(), attempt, partial(erased_among, key=Keyring(None)),
        scratch=tmp_path, now=datetime(2026, 11, 12, tzinfo=UTC),
    )  # fmt: skip
    engine.dispose()
    assert set_aside.counts["rejected_unknown_track"] == 1
    landing = airflow_home.objects_path / "landing" / "listening" / "2026-11-27"
    landing.mkdir(parents=True, exist_ok=True)
    play = {"user_id": "file-user", "track_id": track, "played_at": "2026-11-26T08:00:00Z"}
    (landing / "learns.jsonl").write_text(json.dumps(play) + "\n")

    result = airflow_home.airflow(
        "dags", "test", "listening_ingest", "--conf", json.dumps({"sources": ["landing_files"]}),
        extra_env=_env(emulator),
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:]
    assert _count(airflow_home, catalogue_tracks, catalogue_tracks.c.track_id == track) == 1
    assert "partitions changed: 2026-11-10, 2026-11-26" in result.stdout
