"""The ``/reports/`` index, from the reports a run stored (a local folder and S3): one row per
report, newest first, daily then weekly, with its title, dates and headline figures; reports
without a summary listed by their label; nothing else in the store listed."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from upath import UPath

from spotify_agent.analytics.report_index import SHOWN, render_index
from spotify_agent.analytics.reporting import build_reports
from spotify_agent.core.audit import Attempt
from spotify_agent.core.objects import ensure_parent
from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.migrate import upgrade
from tests.include.analytics.report_seed import LAST_DAY, seed_report_history

ATTEMPT = Attempt("reporting", "manual__index", "ab" * 16, task_id="build", try_number=1)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """The seeded warehouse the reports are built from (the index itself reads none)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('index') / 'warehouse.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        seed_report_history(connection)
    yield engine
    engine.dispose()


@pytest.fixture(params=["local", "s3"])
def objects(request, tmp_path):
    if request.param == "local":
        return tmp_path / "objects"
    s3 = request.getfixturevalue("s3_server")
    return UPath(
        f"s3://{s3.bucket}/index/{secrets.token_hex(4)}",
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3.endpoint_url, "region_name": "eu-west-1"},
    )


def _rows(html: str) -> list[tuple[str, str]]:
    """(label, text) of each row, in page order."""
    found = re.findall(r'<li class="report" data-label="([^"]+)">(.*?)</li>', html, re.S)
    return [(label, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip())
            for label, body in found]  # fmt: skip


def test_the_index_lists_each_report_newest_first_with_its_figures(engine, objects) -> None:
    days = [LAST_DAY - timedelta(days=n) for n in (7, 1, 0)]  # two ISO weeks
    build_reports(engine, objects, days, "daily", ATTEMPT, now=NOW)
    build_reports(engine, objects, days, "weekly", ATTEMPT, now=NOW)
    # A report built before summaries, a damaged summary, and what is no report at all.
    for key, text in (
        ("daily/2026-10-01/report.html", "<p>old</p>"),
        ("daily/2026-10-02/report.html", "<p>old</p>"),
        ("daily/2026-10-02/summary.json", "{not json"),
        ("daily/notes/report.html", "<p>no</p>"),
    ):
        ensure_parent(objects / "reports" / key)
        (objects / "reports" / key).write_text(text)

    html = render_index(objects / "reports")
    rows = _rows(html)

    assert [label for label, _ in rows] == [
        "2026-11-22", "2026-11-21", "2026-11-15", "2026-10-02", "2026-10-01",
        "2026-W47", "2026-W46",
    ]  # fmt: skip
    assert html.index("<h2>Daily</h2>") < html.index("<h2>Weekly</h2>")
    text = dict(rows)
    assert text["2026-11-22"] == (
        "Listening report \u00b7 day 2026-11-22 Sunday 22 November 2026 Plays 600 +0.0% vs "
        "previous day +20.0% vs same day last week +2.9% vs 7-day average Listeners 40"
    )
    assert text["2026-W47"] == (
        "Listening report \u00b7 week 2026-W47 data quality 16 Nov \u2013 22 Nov 2026 Plays 3,600 "
        "+2.9% vs previous week Listeners 70"
    )
    assert "built before summaries" in text["2026-10-01"] and "Plays" not in text["2026-10-01"]
    assert "built before summaries" in text["2026-10-02"]
    assert 'href="daily/2026-11-22/report.html"' in html
    assert 'href="weekly/2026-W47/report.html"' in html
    # Colour by what is good: more plays than a week before is green.
    assert '<div class="change up tone-good">+20.0% vs same day last week</div>' in html
    # One page, nothing to fetch: the only links are the reports.
    assert "<script" not in html and "<link" not in html
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(re.fullmatch(r"(daily|weekly)/[0-9W-]+/report\.html", link) for link in links)


def test_a_summary_s_text_is_escaped_and_its_classes_kept_to_known_values(tmp_path) -> None:
    folder = tmp_path / "reports" / "daily" / "2026-11-22"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "title": "<script>alert(1)</script>",
                "dates": "today",
                "figures": [
                    {
                        "metric": "plays",
                        "name": "Plays",
                        "value": "1",
                        "changes": [
                            {
                                "against": "x",
                                "text": "+1%",
                                "direction": '" onclick="',
                                "tone": "evil",
                            }
                        ],
                    },
                ],  # fmt: skip
            }
        )
    )
    html = render_index(tmp_path / "reports")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<div class="change flat tone-neutral">+1% vs x</div>' in html


def test_past_the_newest_the_index_counts_what_it_does_not_list(tmp_path) -> None:
    daily = tmp_path / "reports" / "daily"
    first = LAST_DAY - timedelta(days=SHOWN["daily"] + 1)
    for n in range(SHOWN["daily"] + 2):
        (daily / (first + timedelta(days=n)).isoformat()).mkdir(parents=True)
    html = render_index(tmp_path / "reports")
    labels = [label for label, _ in _rows(html)]
    assert len(labels) == SHOWN["daily"] and labels[0] == LAST_DAY.isoformat()
    assert "2 older daily reports not listed" in html
    assert "No weekly report yet." in html
