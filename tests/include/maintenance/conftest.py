"""Fixtures of the maintenance tests: a Redis prefix of this process's own and an S3 store."""

from __future__ import annotations

import secrets

import pytest
from upath import UPath

from tests.include.maintenance.test_erasure import CACHE_PREFIX


@pytest.fixture
def cache(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{CACHE_PREFIX}:*"):
        client.delete(key)
    yield client
    for key in client.scan_iter(f"{CACHE_PREFIX}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def objects(s3_server) -> UPath:
    return UPath(
        f"s3://{s3_server.bucket}/erasure/{secrets.token_hex(4)}",
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    )
