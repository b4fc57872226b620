"""The run-conf contract of every DAG: ``dag_id`` -> the pydantic model its conf must match.

Backends that trigger runs validate their conf with these models before calling the REST API, and
the DAG policy tests check each DAG's Params against its model. A new DAG adds its model here.
"""

from __future__ import annotations

from spotify_agent.analytics.confs import (
    ReportingConf,
    StreamingAggregationConf,
    TrendDetectionConf,
)
from spotify_agent.content.confs import ContentGenerationConf
from spotify_agent.core.run_conf import RunConf
from spotify_agent.maintenance.confs import (
    BackupConf,
    GdprErasureConf,
    HealthCheckConf,
    LogRotationConf,
)
from spotify_agent.ml.confs import (
    AudioAnalysisConf,
    ModelTrainingConf,
    RecommendationUpdateConf,
)
from spotify_agent.spotify.confs import (
    ArtistMonitoringConf,
    ListeningDaysConf,
    ListeningIngestConf,
    PlaylistUpdateConf,
)

CONF_MODELS: dict[str, type[RunConf]] = {
    "health_check": HealthCheckConf,
    "artist_monitoring": ArtistMonitoringConf,
    "listening_ingest": ListeningIngestConf,
    "listening_days": ListeningDaysConf,
    "playlist_update": PlaylistUpdateConf,
    "content_generation": ContentGenerationConf,
    "backup": BackupConf,
    "log_rotation": LogRotationConf,
    "gdpr_erasure": GdprErasureConf,
    "streaming_aggregation": StreamingAggregationConf,
    "trend_detection": TrendDetectionConf,
    "reporting": ReportingConf,
    "weekly_reporting": ReportingConf,
    "model_training": ModelTrainingConf,
    "recommendation_update": RecommendationUpdateConf,
    "audio_analysis": AudioAnalysisConf,
}
