"""reporting and weekly_reporting under `airflow dags test` (no partition key: `day` names the
day, or a day of the week): a Sunday's report and its week's, with their extracts, linked from
their tasks, e-mailed through a real SMTP server once (not again on a re-run); bad conf refused
before the run."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import audit_log, reports
from tests.include.analytics.report_seed import LAST_DAY, seed_report_history
from tests.receivers import run_smtp_receiver

SUNDAY = LAST_DAY.isoformat()
EXTRACTS = {"comparisons.csv", "daily.csv", "artists.csv", "tracks.csv", "countries.csv",
            "movers.csv", "data_quality.csv"}  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.begin() as connection:
        seed_report_history(connection)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def smtp():
    with run_smtp_receiver() as receiver:
        yield receiver


# Where users open the UI in these runs: links and e-mails must follow it.
BASE_URL = "http://airflow.reports.test:9191/data"


def _run(airflow_home, conf, smtp=None, dag_id="reporting"):
    env = {"AIRFLOW__API__BASE_URL": BASE_URL}
    if smtp:
        env["AIRFLOW_CONN_SMTP_REPORTS"] = json.dumps(smtp.connection())
    result = airflow_home.dags_test(dag_id, conf, extra_env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


@pytest.fixture(scope="module")
def sunday_run(airflow_home, warehouse, smtp):
    conf = {"day": SUNDAY, "email_to": ["ops@example.com", "ceo@example.com"]}
    _run(airflow_home, conf, smtp)
    # The week's run, as the Sunday report's event would start it.
    return _run(airflow_home, conf, smtp, dag_id="weekly_reporting")


def _reports(engine) -> dict[tuple[str, str], dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(reports)).mappings()
        return {(row["kind"], row["label"]): dict(row) for row in rows}


def test_a_sunday_writes_the_day_s_and_the_week_s_report(
    airflow_home, warehouse, sunday_run
) -> None:
    for prefix in ("reports/daily/2026-11-22", "reports/weekly/2026-W47"):
        folder = airflow_home.objects_path / prefix
        assert {p.name for p in folder.iterdir()} == {"report.html", "summary.json", *EXTRACTS}
        assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    weekly_html = (airflow_home.objects_path / "reports/weekly/2026-W47/report.html").read_text()
    assert "3,600 plays by 70 listeners, up 2.9% on the previous week." in weekly_html
    rows = _reports(warehouse)
    assert set(rows) == {("daily", "2026-11-22"), ("weekly", "2026-W47")}
    weekly = rows[("weekly", "2026-W47")]
    assert weekly["object_prefix"] == "reports/weekly/2026-W47"
    assert weekly["quality_flagged"] and not rows[("daily", "2026-11-22")]["quality_flagged"]
    with warehouse.connect() as connection:
        audited = connection.execute(
            select(audit_log.c.entity_key, audit_log.c.outcome).where(
                audit_log.c.action == "report_published"
            )
        ).all()
    assert sorted(audited) == [("2026-11-22", "done"), ("2026-W47", "flagged")]


def test_each_build_task_links_to_its_report(airflow_home, sunday_run) -> None:
    with sqlite3.connect(airflow_home.path / "airflow.db") as metadata:
        links = dict(
            metadata.execute(
                "SELECT key, value FROM xcom WHERE task_id = 'build' AND ("
                "(dag_id = 'reporting' AND key = '_link_DailyReportLink') OR "
                "(dag_id = 'weekly_reporting' AND key = '_link_WeeklyReportLink'))"
            ).fetchall()
        )
    # Paths, not URLs: the UI opens them on the host and port it is served from.
    assert (
        json.loads(links["_link_DailyReportLink"]) == "/data/reports/daily/2026-11-22/report.html"
    )
    assert (
        json.loads(links["_link_WeeklyReportLink"]) == "/data/reports/weekly/2026-W47/report.html"
    )


def test_the_reports_are_e_mailed_with_the_report_attached(smtp, sunday_run) -> None:
    subjects = sorted(message["Subject"] for message in smtp.messages)
    assert subjects == [
        "Daily listening report 2026-11-22: 600 plays by 40 listeners, up 0.0% on the previous "
        "day and up 20.0% on the previous Sunday.",
        "Weekly listening report 2026-W47 [data quality]: 3,600 plays by 70 listeners, up 2.9% "
        "on the previous week.",
    ]
    weekly = next(m for m in smtp.messages if "W47" in m["Subject"])
    assert weekly["X-Envelope-To"] == "ceo@example.com, ops@example.com"
    assert weekly["From"] == "reports@example.com"
    attachments = {part.get_filename(): part.get_content() for part in weekly.iter_attachments()}
    # The names the report's links use: saved together, the report's links work.
    assert set(attachments) == {"report.html", *EXTRACTS}
    html = attachments["report.html"]
    html = html.decode() if isinstance(html, bytes) else html
    # The label is kept on one line (a phone would break it at its hyphen).
    assert 'Listening report &middot; week <span class="label">2026-W47</span>' in html
    body = weekly.get_body(("html",)).get_content()
    assert f'href="{BASE_URL}/reports/weekly/2026-W47/report.html"' in body
    assert "not aggregated: 2026-11-18" in body


def test_a_re_run_rewrites_the_same_report_and_sends_nothing_again(
    airflow_home, warehouse, smtp, sunday_run
) -> None:
    before = _reports(warehouse)
    sent = len(smtp.messages)
    html = (airflow_home.objects_path / "reports/weekly/2026-W47/report.html").read_bytes()
    # The same people, written differently.
    _run(airflow_home, {"day": SUNDAY, "email_to": ["CEO@example.com", "ops@example.com"]}, smtp)
    again = {"day": "2026-11-18", "email_to": ["CEO@example.com", "ops@example.com"]}
    _run(airflow_home, again, smtp, dag_id="weekly_reporting")  # another day of the same week
    assert len(smtp.messages) == sent
    after = _reports(warehouse)
    assert {k: v["html_sha256"] for k, v in after.items()} == {
        k: v["html_sha256"] for k, v in before.items()
    }
    assert (airflow_home.objects_path / "reports/weekly/2026-W47/report.html").read_bytes() == html
    # Someone else asked for it: they get it.
    _run(airflow_home, {"day": SUNDAY, "email_to": ["new@example.com"]}, smtp, "weekly_reporting")
    assert [m["X-Envelope-To"] for m in smtp.messages[sent:]] == ["new@example.com"]


def test_without_recipients_the_e_mail_step_is_skipped_saying_why(airflow_home, warehouse) -> None:
    result = _run(airflow_home, {"day": "2026-11-20"})
    assert "no recipients: set email_to or the report_recipients variable" in result.stdout
    assert ("daily", "2026-11-20") in _reports(warehouse)


def test_a_bad_address_is_refused_before_the_run_naming_the_field(airflow_home, warehouse) -> None:
    before = _reports(warehouse)
    result = airflow_home.dags_test("reporting", {"day": SUNDAY, "email_to": ["ops at example"]})
    assert result.returncode != 0
    assert "email_to" in result.stdout + result.stderr
    assert _reports(warehouse) == before


def test_each_day_and_each_week_is_reported_once() -> None:
    from datetime import date

    from spotify_agent.analytics.reporting import periods_for

    wednesday = date(2026, 11, 18)
    days = [LAST_DAY, wednesday, wednesday]
    daily = [(p.kind, p.label) for p in periods_for(days, "daily")]
    assert daily == [("daily", "2026-11-18"), ("daily", "2026-11-22")]
    assert [(p.kind, p.label) for p in periods_for(days, "weekly")] == [("weekly", "2026-W47")]
