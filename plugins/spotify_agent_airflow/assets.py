"""Every Asset the families exchange, defined once (DESIGN: families talk through Assets).

URIs carry no scheme on purpose: a URI with one (``s3://``, even ``warehouse://``) makes Airflow
load every provider's URI handlers when the DAG file is parsed, boto3 included (about 200 ms per
file, measured by ``bench/parse_time.py``). ``warehouse/<table>`` names a warehouse table.

An Asset is identified by its name *and* URI: renaming either in a running deployment leaves the
old one registered and marks the new one inactive, failing the tasks that produce it until the old
asset is removed. Treat both as permanent.
"""

from __future__ import annotations

from airflow.sdk import Asset


def _table(name: str) -> Asset:
    return Asset(name=name, uri=f"warehouse/{name}", group="warehouse", extra={"table": name})


ARTIST_SNAPSHOTS = _table("artist_snapshots")
ARTIST_EVENTS = _table("artist_events")
# Updated with the UTC days (partition keys YYYY-MM-DD) whose plays a run stored or announced.
LISTENING_EVENTS = _table("listening_events")
PLAYLIST_SYNCS = _table("playlist_syncs")
# Updated when a finished day's aggregates are written (not by partials), keyed by the day.
LISTENING_AGGREGATES = _table("aggregation_periods")
# Updated by each trend_detection run, keyed by the day (reporting runs on it).
LISTENING_TRENDS = _table("listening_trends")
# Updated only when a trend_detection run found significant trends, named in the extra
# (content_generation runs on it; alerting can too).
SIGNIFICANT_TRENDS = Asset(
    name="significant_listening_trends",
    uri="warehouse/listening_trends/significant",
    group="warehouse",
    extra={"table": "listening_trends"},
)
# Updated when reporting writes a day's report, keyed by the day (weekly_reporting runs on it);
# the event's extra names the report and its path.
LISTENING_REPORTS = _table("reports")
# Updated when weekly_reporting writes a week's report, keyed by the week ("2026-11-16 (W47)").
WEEKLY_REPORTS = Asset(
    name="weekly_listening_reports",
    uri="warehouse/reports/weekly",
    group="warehouse",
    extra={"table": "reports"},
)
# Updated when model_training changes the serving recommender; the extra names it and why.
MODEL_PROMOTIONS = _table("model_registry")
# Updated by each recommendation_update run (the warehouse set; Redis when the cache is on).
RECOMMENDATIONS = _table("recommendations")
# Updated by each audio_analysis run that analysed something.
AUDIO_FEATURES = _table("track_audio_features")
