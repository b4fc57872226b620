"""Command line: ``python -m spotify_emulator serve|generate ...``.

``serve`` runs the emulator with uvicorn in the foreground; ``generate`` writes a seeded
catalogue as a fixture file (the format ``serve --fixtures`` reads back).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from spotify_emulator.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_WINDOW_S,
    DEFAULT_RECENTLY_PLAYED_CAP,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SCOPE,
    TIERS,
    CatalogSpec,
    ClientApp,
    EmulatorConfig,
    RefreshGrant,
)
from spotify_emulator.faults import FaultSpec, InvalidFaultSpec

log = logging.getLogger("spotify_emulator")


def _catalog_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = CatalogSpec()
    parser.add_argument("--seed", type=int, default=defaults.seed, help="catalogue seed")
    parser.add_argument("--artists", type=int, default=defaults.n_artists)
    parser.add_argument("--albums-per-artist", type=int, default=defaults.albums_per_artist)
    parser.add_argument("--tracks-per-album", type=int, default=defaults.tracks_per_album)
    parser.add_argument("--users", type=int, default=defaults.n_users)
    parser.add_argument("--events-per-user", type=int, default=defaults.events_per_user)
    parser.add_argument("--playlists-per-user", type=int, default=defaults.playlists_per_user)
    parser.add_argument("--history-days", type=float, default=defaults.history_days)


def _fault_spec(text: str) -> FaultSpec:
    try:
        return FaultSpec.parse(text)
    except InvalidFaultSpec as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spotify_emulator")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the emulator (uvicorn, foreground)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--tier", choices=TIERS, default="extended")
    serve.add_argument(
        "--faults",
        type=_fault_spec,
        default=FaultSpec(),
        help='e.g. "rate=0.2,seed=7,kinds=429+500+503+truncated"; empty: none',
    )
    serve.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT,
        help="calls per app per rolling window; 0 switches the limit off",
    )
    serve.add_argument("--rate-window", type=float, default=DEFAULT_RATE_WINDOW_S)
    serve.add_argument("--retry-after", type=int, default=None, help="force this Retry-After")
    serve.add_argument("--token-ttl", type=int, default=3600, help="access token lifetime (s)")
    serve.add_argument(
        "--recently-played-cap",
        type=int,
        default=DEFAULT_RECENTLY_PLAYED_CAP,
        help="plays visible per user (the real API: 50); 0 shows the whole history",
    )
    serve.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    serve.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    serve.add_argument("--refresh-token", default=DEFAULT_REFRESH_TOKEN)
    serve.add_argument("--fixtures", type=Path, help="load the catalogue from this JSON fixture")
    serve.add_argument("--log-level", default="info")
    _catalog_arguments(serve)

    generate = commands.add_parser("generate", help="write a seeded catalogue as a fixture")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--history-end-ms", type=int, default=None)
    _catalog_arguments(generate)
    return parser


def _spec(args: argparse.Namespace, history_end_ms: int | None = None) -> CatalogSpec:
    return CatalogSpec(
        seed=args.seed,
        n_artists=args.artists,
        albums_per_artist=args.albums_per_artist,
        tracks_per_album=args.tracks_per_album,
        n_users=args.users,
        events_per_user=args.events_per_user,
        playlists_per_user=args.playlists_per_user,
        history_days=args.history_days,
        history_end_ms=history_end_ms,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # Imported here so `--help` stays fast.
    import uvicorn

    from spotify_emulator.app import create_app
    from spotify_emulator.fixtures import dump_fixture
    from spotify_emulator.testing import build_catalog

    if args.command == "generate":
        catalog = build_catalog(_spec(args, args.history_end_ms))
        args.out.write_text(json.dumps(dump_fixture(catalog), indent=1), encoding="utf-8")
        log.info("wrote %s (%s)", args.out, catalog.summary())
        return 0
    faults: FaultSpec = args.faults
    config = EmulatorConfig(
        tier=args.tier,
        token_ttl_s=args.token_ttl,
        rate_limit=args.rate_limit or None,
        rate_window_s=args.rate_window,
        retry_after_s=args.retry_after,
        faults=faults,
        clients=(ClientApp(args.client_id, args.client_secret),),
        refresh_tokens=(RefreshGrant(args.refresh_token, args.client_id, None, DEFAULT_SCOPE),),
        recently_played_cap=args.recently_played_cap or None,
    )
    catalog = build_catalog(args.fixtures or _spec(args), seed=args.seed)
    log.info(
        "Spotify emulator on http://%s:%s (tier %s, faults %s, rate limit %s per %gs): %s",
        args.host,
        args.port,
        config.tier,
        faults.render(),
        config.rate_limit or "off",
        config.rate_window_s,
        catalog.summary(),
    )
    uvicorn.run(
        create_app(config, catalog, id_seed=args.seed),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
