"""The reporting jobs without Airflow, on each warehouse backend: the day's and the week's
report with their extracts and audit rows, a re-run writes the same bytes; e-mail sends each
report once to the same people, attachments and all, and again to others; a week still in
progress is not sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from spotify_agent.analytics.reporting import build_reports, email_reports
from spotify_agent.core.audit import Attempt
from spotify_agent.warehouse.schema import audit_log, reports
from tests.include.analytics.report_seed import LAST_DAY, seed_report_history

ATTEMPT = Attempt("reporting", "manual__report-job", "ef" * 16, task_id="build", try_number=1)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
EXTRACTS = ("artists.csv", "comparisons.csv", "countries.csv", "daily.csv", "data_quality.csv",
            "movers.csv", "tracks.csv")  # fmt: skip


class Outbox:
    """Keeps what would have been sent, attachments read while they exist."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[str], str, dict[str, bytes]]] = []

    def __call__(self, to: list[str], subject: str, html: str, files: list[str]) -> None:
        self.sent.append((to, subject, {Path(f).name: Path(f).read_bytes() for f in files}))


def _audited(engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        query = select(audit_log.c.entity_key, audit_log.c.outcome).where(
            audit_log.c.action == action
        )
        return sorted(tuple(row) for row in connection.execute(query))


def _built(warehouse, objects: Path):
    with warehouse.begin() as connection:
        seed_report_history(connection)
    return _build(warehouse, objects)


def _build(warehouse, objects: Path, now: datetime = NOW, day=LAST_DAY):
    daily = build_reports(warehouse, objects, [day], "daily", ATTEMPT, now=now)
    return daily + build_reports(warehouse, objects, [day], "weekly", ATTEMPT, now=now)


def test_the_day_s_and_the_week_s_report_are_written_once(warehouse, tmp_path) -> None:
    objects = tmp_path / "objects"

    built = _built(warehouse, objects)
    again = _build(warehouse, objects)

    assert [(r.kind, r.label, r.prefix) for r in built] == [
        ("daily", "2026-11-22", "reports/daily/2026-11-22"),
        ("weekly", "2026-W47", "reports/weekly/2026-W47"),
    ]
    assert [r.sha256 for r in again] == [r.sha256 for r in built]
    weekly = built[1]
    assert weekly.quality_flagged and not built[0].quality_flagged
    assert weekly.as_dict()["extracts"] == list(EXTRACTS)
    folder = objects / weekly.prefix
    # The index's summary beside them (not an extract: e-mails do not carry it).
    assert {p.name for p in folder.iterdir()} == {"report.html", "summary.json", *EXTRACTS}
    assert "3,600 plays by 70 listeners" in (folder / "report.html").read_text()
    with warehouse.connect() as connection:
        rows = connection.execute(select(reports.c.kind, reports.c.html_sha256)).all()
    assert sorted(rows) == sorted((r.kind, r.sha256) for r in built)
    assert _audited(warehouse, "report_published") == [
        ("2026-11-22", "done"),
        ("2026-W47", "flagged"),
    ]


def test_each_report_goes_once_to_the_same_people(warehouse, tmp_path) -> None:
    objects = tmp_path / "objects"
    built = [{**r.as_dict(), "url": f"https://airflow/{r.prefix}"} for r in _built(warehouse, objects)]  # fmt: skip
    outbox = Outbox()

    first = email_reports(warehouse, objects, built, ["Ops@Example.com", "ceo@example.com"],
                          ATTEMPT, send=outbox, now=NOW)  # fmt: skip
    same = email_reports(warehouse, objects, built, ["ceo@example.com ", "ops@example.com"],
                         ATTEMPT, send=outbox, now=NOW)  # fmt: skip
    others = email_reports(warehouse, objects, built[1:], ["new@example.com"], ATTEMPT,
                           send=outbox, now=NOW)  # fmt: skip

    assert (first.as_result(), same.as_result(), others.as_result()) == (
        {"emailed": 2, "already_sent": 0},
        {"emailed": 0, "already_sent": 2},
        {"emailed": 1, "already_sent": 0},
    )
    assert [(to, subject.split(":")[0]) for to, subject, _ in outbox.sent] == [
        (["ceo@example.com", "ops@example.com"], "Daily listening report 2026-11-22"),
        (["ceo@example.com", "ops@example.com"], "Weekly listening report 2026-W47 [data quality]"),
        (["new@example.com"], "Weekly listening report 2026-W47 [data quality]"),
    ]
    attachments = outbox.sent[1][2]
    assert set(attachments) == {"report.html", *EXTRACTS}
    assert attachments["report.html"] == (objects / built[1]["prefix"] / "report.html").read_bytes()
    assert _audited(warehouse, "report_emailed") == [("2026-11-22", "done"), ("2026-W47", "done")]


def test_a_week_in_progress_is_built_but_not_e_mailed(warehouse, tmp_path) -> None:
    objects = tmp_path / "objects"
    with warehouse.begin() as connection:
        seed_report_history(connection)
    wednesday = LAST_DAY - timedelta(days=4)
    thursday_noon = datetime(2026, 11, 19, 12, tzinfo=UTC)
    daily, weekly = _build(warehouse, objects, now=thursday_noon, day=wednesday)
    assert (daily.complete, weekly.complete) == (True, False)
    outbox = Outbox()

    sent = email_reports(warehouse, objects, [{**r.as_dict(), "url": "u"} for r in (daily, weekly)],
                         ["ops@example.com"], ATTEMPT, send=outbox, now=thursday_noon)  # fmt: skip

    assert sent.as_result() == {"emailed": 1, "already_sent": 0}
    assert [subject.split(" ")[0] for _, subject, _ in outbox.sent] == ["Daily"]
