"""Warehouse tables as SQLAlchemy Core metadata.

Migrations in ``migrations/versions`` create these tables; a test proves the migrated database and
this metadata agree on both SQLite and PostgreSQL. A new table goes here *and* in a new migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Named constraints make migrations reproducible across dialects.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL, but INTEGER on SQLite so the key stays the rowid alias (auto-increment).
Id = BigInteger().with_variant(Integer(), "sqlite")

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # "task_attempt" for the listener's rows, else a domain action such as "health_recorded".
    Column("action", String(64), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("task_id", String(250), nullable=False, server_default=""),
    Column("map_index", Integer, nullable=False, server_default="-1"),
    Column("try_number", Integer, nullable=False, server_default="0"),
    Column("trace_id", String(32), nullable=False),
    # Who acted: the DAG owner for task attempts, the component for domain actions.
    Column("actor", String(250), nullable=False, server_default=""),
    Column("outcome", String(32), nullable=False),
    Column("duration_ms", BigInteger, nullable=True),
    # What the action touched; personal identifiers are hashed before they get here.
    Column("entity_type", String(64), nullable=False, server_default=""),
    Column("entity_key", String(250), nullable=False, server_default=""),
    Column("counts", JSON(none_as_null=True), nullable=True),
    Column("detail", Text, nullable=True),
    # Re-running the same attempt or action rewrites its row instead of adding one.
    UniqueConstraint(
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "try_number",
        "action",
        "entity_key",
        name="uq_audit_log_attempt_action",
    ),
    Index("ix_audit_log_trace_id", "trace_id"),
    Index("ix_audit_log_entity", "entity_type", "entity_key"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Where the payload came from: "spotify:artist", or an object key with ":line" (keys may be
    # 1,024 characters long).
    Column("source", String(1100), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    # json (valid JSON text), text (any other UTF-8) or base64 (bytes): nothing is lost.
    Column("payload_encoding", String(8), nullable=False),
    # Empty when the record went to the object store (payload_object_key).
    Column("payload", Text, nullable=False),
    # A short reason naming the field and the problem, never the payload.
    Column("reason", Text, nullable=False),
    Column("field", String(250), nullable=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("quarantined_at", DateTime(timezone=True), nullable=False),
    # Migration 0016 (NULL on older rows): the record's size in bytes; records over
    # spotify_agent.core.quarantine.MAX_INLINE_BYTES live in the object store at
    # payload_object_key (quarantine/<sha256>) with the SHA-256 of their bytes; user_id is the
    # listener parsed from the record, so an erasure finds it without reading the object.
    Column("payload_size_bytes", BigInteger, nullable=True),
    Column("payload_object_key", String(1100), nullable=True),
    Column("payload_object_sha256", String(64), nullable=True),
    Column("user_id", String(128), nullable=True),
    # The same bad payload from the same source is kept once, whichever run saw it last.
    UniqueConstraint("source", "payload_sha256"),
    Index("ix_quarantine_user_id", "user_id"),
)

health_checks = Table(
    "health_checks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("component", String(64), nullable=False),
    # up, down, or off (not configured in this deployment).
    Column("status", String(8), nullable=False),
    Column("latency_ms", Integer, nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
    Column("measured_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "component"),
)


# --- artist_monitoring (migration 0002) -------------------------------------------------------

SpotifyIdColumn = String(22)

watched_artists = Table(
    "watched_artists",
    metadata,
    Column("artist_id", SpotifyIdColumn, primary_key=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by_run", String(250), nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
)

artist_snapshots = Table(
    "artist_snapshots",
    metadata,
    Column("artist_id", SpotifyIdColumn, nullable=False),
    # The data interval's end date: one snapshot per artist and day, replaced by a re-run.
    Column("snapshot_date", Date, nullable=False),
    Column("name", Text, nullable=False),
    Column("genres", JSON, nullable=False),
    # NULL when the API tier withholds the field: missing, not zero.
    Column("popularity", Integer, nullable=True),
    Column("followers", BigInteger, nullable=True),
    Column("release_ids", JSON, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("artist_id", "snapshot_date", name="pk_artist_snapshots"),
)

artist_releases = Table(
    "artist_releases",
    metadata,
    Column("artist_id", SpotifyIdColumn, nullable=False),
    Column("album_id", SpotifyIdColumn, nullable=False),
    Column("name", Text, nullable=False),
    Column("album_type", String(32), nullable=True),
    Column("release_date", String(10), nullable=True),
    Column("total_tracks", Integer, nullable=True),
    Column("first_seen_date", Date, nullable=False),
    PrimaryKeyConstraint("artist_id", "album_id", name="pk_artist_releases"),
)

artist_events = Table(
    "artist_events",
    metadata,
    Column("artist_id", SpotifyIdColumn, nullable=False),
    Column("snapshot_date", Date, nullable=False),
    Column("event_type", String(32), nullable=False),
    # The release id for new_release, else the field that changed.
    Column("subject", String(64), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("delta", Float, nullable=True),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    PrimaryKeyConstraint(
        "artist_id", "snapshot_date", "event_type", "subject", name="pk_artist_events"
    ),
)


# --- listening_ingest (migration 0003) --------------------------------------------------------

listening_events = Table(
    "listening_events",
    metadata,
    # Personal data: a listener's id (erased by gdpr_erasure).
    Column("user_id", String(128), nullable=False),
    Column("played_at", DateTime(timezone=True), nullable=False),
    Column("track_id", SpotifyIdColumn, nullable=False),
    Column("ms_played", Integer, nullable=True),
    Column("context_uri", String(250), nullable=True),
    # recently_played:<connection> or the landed object's key (up to 1,024 characters).
    Column("source", String(1100), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("user_id", "played_at", "track_id", name="pk_listening_events"),
    Index("ix_listening_events_played_at", "played_at"),
)

listening_cursors = Table(
    "listening_cursors",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("spotify_conn_id", String(250), nullable=False),
    # Unix ms of the newest play ingested: the next read asks for plays after it.
    Column("after_ms", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

ingested_files = Table(
    "ingested_files",
    metadata,
    Column("object_key", String(1024), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("object_key", "sha256", name="pk_ingested_files"),
)


# --- playlist_update (migration 0005) ---------------------------------------------------------

managed_playlists = Table(
    "managed_playlists",
    metadata,
    Column("playlist_id", SpotifyIdColumn, primary_key=True),
    Column("spotify_conn_id", String(250), nullable=False),
    # most_played | track_list (see spotify_agent.spotify.confs.ManagedPlaylistSpec).
    Column("rule", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("window_days", Integer, nullable=False),
    Column("track_ids", JSON, nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("added_by_run", String(250), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

playlist_syncs = Table(
    "playlist_syncs",
    metadata,
    Column("playlist_id", SpotifyIdColumn, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    # planned (written before the first write call) | applied | unchanged
    Column("status", String(16), nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("snapshot_before", String(128), nullable=False),
    Column("snapshot_after", String(128), nullable=True),
    Column("target_size", Integer, nullable=False),
    # Track URIs added and removed, in target / playlist order.
    Column("added", JSON, nullable=False),
    Column("removed", JSON, nullable=False),
    Column("moved", Integer, nullable=False),
    Column("write_calls", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("playlist_id", "run_id", name="pk_playlist_syncs"),
)


# --- content_generation (migration 0006) ------------------------------------------------------

content_versions = Table(
    "content_versions",
    metadata,
    # playlist_description (subject_id: playlist id) | artist_digest (subject_id: ISO week)
    Column("subject_type", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    # [{"text": sentence, "facts": {name: value}}]: the numbers behind every sentence.
    Column("sentences", JSON, nullable=False),
    # template:v1 | llm:<model>
    Column("generator", String(128), nullable=False),
    # The data interval's day or ISO week the facts describe.
    Column("period", String(16), nullable=False),
    # drafted -> approved | rejected -> published
    Column("status", String(16), nullable=False),
    Column("object_key", String(1024), nullable=True),
    Column("drafted_by_run", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
    Column("reviewed_by", String(250), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint(
        "subject_type", "subject_id", "content_sha256", name="pk_content_versions"
    ),
)


# --- backup (migration 0007) ------------------------------------------------------------------

backups = Table(
    "backups",
    metadata,
    # The logical database backed up ("warehouse"); the date is the data interval's end day.
    Column("database", String(64), nullable=False),
    Column("backup_date", Date, nullable=False),
    Column("object_key", String(1024), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("total_rows", BigInteger, nullable=False),
    # {table: {"rows": n, "checksum": sha256}} of the source, taken in the dump's snapshot.
    Column("tables", JSON, nullable=False),
    # verified | failed | deleted
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("verified_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("database", "backup_date", name="pk_backups"),
)


# --- gdpr_erasure (migration 0008) ------------------------------------------------------------

erasure_requests = Table(
    "erasure_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    # Personal data: the raw id, kept only while the request is open (NULL once completed).
    Column("user_id", String(128), nullable=True),
    # Keyed hash of the id (spotify_agent.maintenance.personal_data.user_hmac): the receipt's key.
    Column("user_hmac", String(64), nullable=False),
    # pending -> completed
    Column("status", String(16), nullable=False),
    Column("requested_by_run", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    # {store: rows, files or keys erased}, written when the request completes.
    Column("counts", JSON(none_as_null=True), nullable=True),
    Column("detail", Text, nullable=False, server_default=""),
    # The id of the key behind user_hmac (spotify_agent.maintenance.erasure_keys); NULL while a
    # backend-written row waits for accept_requests to hash it (migration 0015).
    Column("key_id", String(16), nullable=True),
    Index("ix_erasure_requests_status", "status"),
)

erasure_steps = Table(
    "erasure_steps",
    metadata,
    # One row per (request, store): a re-run skips the done ones and finishes the started ones.
    Column("request_id", String(64), nullable=False),
    Column("store", String(64), nullable=False),
    # started -> done (back to started when the proof still finds the user there)
    Column("status", String(16), nullable=False),
    # Items erased so far, added up across attempts.
    Column("erased", Integer, nullable=False),
    # The run that started the step, then the one that finished it.
    Column("run_id", String(250), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("request_id", "store", name="pk_erasure_steps"),
)

erasure_log = Table(
    "erasure_log",
    metadata,
    # Outlives the requests: replayed on every restored backup (a copy lives in the object store).
    # Append-only, one entry per completed request: erasing someone again adds an entry.
    Column("request_id", String(64), nullable=False),
    Column("user_hmac", String(64), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False),
    # Which key made user_hmac (migration 0015; NULL only until migrate-warehouse stamps an
    # entry written before key ids existed).
    Column("key_id", String(16), nullable=True),
    PrimaryKeyConstraint("request_id", name="pk_erasure_log"),
    Index("ix_erasure_log_key_hmac", "key_id", "user_hmac"),
)


# --- streaming_aggregation (migration 0009) ---------------------------------------------------

catalogue_tracks = Table(
    "catalogue_tracks",
    metadata,
    # Filled by listening_ingest from the track objects Spotify returns with each play.
    Column("track_id", SpotifyIdColumn, primary_key=True),
    # The first listed artist: plays count for one artist.
    Column("artist_id", SpotifyIdColumn, nullable=False),
    Column("artist_name", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("duration_ms", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

listener_profiles = Table(
    "listener_profiles",
    metadata,
    # Personal data, written by the service's backend (Spotify no longer gives a user's country);
    # erased by gdpr_erasure.
    Column("user_id", String(128), primary_key=True),
    # ISO 3166-1 alpha-2; NULL when the listener never said.
    Column("country", String(2), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every aggregate row belongs to a period: kind "day" (a finished UTC day) or "partial" (today
# so far, replaced every hour until the day's own run replaces it).
agg_artist_country = Table(
    "agg_artist_country",
    metadata,
    Column("kind", String(8), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("artist_id", SpotifyIdColumn, nullable=False),
    Column("country", String(2), nullable=False),
    Column("plays", BigInteger, nullable=False),
    Column("listeners", BigInteger, nullable=False),
    Column("ms_played", BigInteger, nullable=False),
    Column("timed_plays", BigInteger, nullable=False),
    Column("skips", BigInteger, nullable=False),
    PrimaryKeyConstraint(
        "kind", "period_start", "artist_id", "country", name="pk_agg_artist_country"
    ),
)

agg_tracks = Table(
    "agg_tracks",
    metadata,
    Column("kind", String(8), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("track_id", SpotifyIdColumn, nullable=False),
    Column("plays", BigInteger, nullable=False),
    Column("listeners", BigInteger, nullable=False),
    PrimaryKeyConstraint("kind", "period_start", "track_id", name="pk_agg_tracks"),
)

agg_listeners = Table(
    "agg_listeners",
    metadata,
    Column("kind", String(8), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    # Personal data: erased by gdpr_erasure.
    Column("user_id", String(128), nullable=False),
    Column("plays", BigInteger, nullable=False),
    Column("ms_played", BigInteger, nullable=False),
    Column("sessions", BigInteger, nullable=False),
    PrimaryKeyConstraint("kind", "period_start", "user_id", name="pk_agg_listeners"),
)

agg_hours = Table(
    "agg_hours",
    metadata,
    Column("kind", String(8), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("plays", BigInteger, nullable=False),
    PrimaryKeyConstraint("kind", "period_start", "hour", name="pk_agg_hours"),
)

aggregation_periods = Table(
    "aggregation_periods",
    metadata,
    # One row per aggregated period: what was counted, what was set aside and why (the report's
    # data-quality section), and which run did it.
    Column("kind", String(8), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("plays", BigInteger, nullable=False),
    # {reason: plays set aside}
    Column("rejected", JSON, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "period_start", name="pk_aggregation_periods"),
)


# --- trend_detection (migration 0010) ---------------------------------------------------------

listening_trends = Table(
    "listening_trends",
    metadata,
    # One row per trend found for a day, with the numbers behind it (analytics.trends); a re-run
    # replaces the day's rows.
    Column("day", Date, nullable=False),
    Column("entity_type", String(8), nullable=False),
    Column("entity_id", String(22), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("plays", BigInteger, nullable=False),
    Column("listeners", BigInteger, nullable=False),
    Column("baseline_median", Float, nullable=False),
    Column("baseline_mad", Float, nullable=False),
    Column("baseline_days", Integer, nullable=False),
    Column("baseline_level", Float, nullable=False),
    Column("robust_z", Float, nullable=False),
    Column("ratio", Float, nullable=True),
    Column("last_7d_plays", BigInteger, nullable=False),
    Column("prev_7d_plays", BigInteger, nullable=True),
    Column("wow_growth", Float, nullable=True),
    Column("wow_z", Float, nullable=True),
    Column("score", Float, nullable=False),
    Column("significant", Boolean, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("day", "entity_type", "entity_id", name="pk_listening_trends"),
)


# --- reporting (migration 0011) ---------------------------------------------------------------

reports = Table(
    "reports",
    metadata,
    # One row per report (daily: the date, weekly: the ISO week), replaced by a re-run.
    Column("kind", String(8), nullable=False),
    Column("label", String(10), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    # The report and its CSV extracts live under this object-store prefix.
    Column("object_prefix", String(250), nullable=False),
    Column("html_sha256", String(64), nullable=False),
    Column("html_bytes", Integer, nullable=False),
    Column("headline", JSON, nullable=False),
    Column("quality_flagged", Boolean, nullable=False),
    # What was last e-mailed, to whom: a re-run does not send the same report again.
    Column("emailed_sha256", String(64), nullable=True),
    Column("emailed_to", JSON, nullable=True),
    Column("emailed_at", DateTime(timezone=True), nullable=True),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "label", name="pk_reports"),
)


# --- model_training (migration 0012) ----------------------------------------------------------

model_registry = Table(
    "model_registry",
    metadata,
    # "<kind>-<sha256 of kind, params, window, data, code version>": same inputs, same id.
    Column("model_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("cutoff", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("params", JSON, nullable=False),
    Column("code_version", String(32), nullable=False),
    Column("data_sha256", String(64), nullable=False),
    # This model's metrics on the run's hold-out, and the run's figures for every candidate.
    Column("metrics", JSON, nullable=False),
    Column("compared", JSON, nullable=False),
    Column("users", Integer, nullable=False),
    Column("items", Integer, nullable=False),
    Column("object_prefix", String(250), nullable=False),
    Column("weights_sha256", String(64), nullable=False),
    # Exactly one row serves at a time; the reason says why it does or does not.
    Column("serving", Boolean, nullable=False),
    Column("decision", String(16), nullable=True),
    Column("reason", Text, nullable=True),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("promoted_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("model_id", name="pk_model_registry"),
)
Index("ix_model_registry_serving", model_registry.c.serving)


# --- recommendation_update (migration 0013) ---------------------------------------------------

recommendations = Table(
    "recommendations",
    metadata,
    # One set per (model, day), replaced whole by a re-run. Personal data: the GDPR registry
    # erases a listener's rows.
    Column("model_id", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("track_id", String(22), nullable=False),
    # None for the popular fallback (no score of the model's)
    Column("score", Float, nullable=True),
    Column("because_track_id", String(22), nullable=True),
    Column("reason", Text, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("model_id", "day", "user_id", "rank", name="pk_recommendations"),
)
Index("ix_recommendations_user_id", recommendations.c.user_id)

# --- audio_analysis (migration 0014) ----------------------------------------------------------

track_audio_features = Table(
    "track_audio_features",
    metadata,
    # One row per track and extractor version (spotify_agent.ml.audio.features): a new version
    # adds rows beside the old ones, which stay readable until their readers move on.
    Column("track_id", SpotifyIdColumn, nullable=False),
    Column("extractor_version", String(64), nullable=False),
    Column("object_key", Text, nullable=False),
    # size and modification time (or ETag) of the object analysed: a replaced file is stale
    Column("source_signature", String(200), nullable=False),
    Column("audio_sha256", String(64), nullable=False),
    Column("source_sample_rate", Integer, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("analysed_seconds", Float, nullable=False),
    Column("tempo_bpm", Float, nullable=False),
    Column("beat_confidence", Float, nullable=False),
    Column("key", Integer, nullable=False),  # pitch class of the tonic, 0 = C (as Spotify's)
    Column("mode", String(5), nullable=False),  # major or minor
    Column("key_confidence", Float, nullable=False),
    Column("loudness_db", Float, nullable=False),
    Column("spectral_centroid_mean", Float, nullable=False),
    Column("spectral_centroid_std", Float, nullable=False),
    Column("spectral_bandwidth_mean", Float, nullable=False),
    Column("spectral_rolloff_mean", Float, nullable=False),
    Column("zero_crossing_rate", Float, nullable=False),
    Column("onset_rate", Float, nullable=False),
    Column("energy", Float, nullable=False),
    Column("danceability", Float, nullable=False),
    Column("mfcc_mean", JSON, nullable=False),
    Column("mfcc_std", JSON, nullable=False),
    Column("chroma_mean", JSON, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("analysed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("track_id", "extractor_version", name="pk_track_audio_features"),
)
