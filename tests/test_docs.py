"""The READMEs (English, French, German) and docs/ point only at files that exist in this
repository: a link or a backticked path to a missing file is a dead end for the reader."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import PROJECT_DIR

# README.md and its translations (tests/test_translations.py keeps their commands the same).
READMES = [PROJECT_DIR / name for name in ("README.md", "README.fr.md", "README.de.md")]
DOCS = [*READMES, *sorted((PROJECT_DIR / "docs").glob("*.md"))]
LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")
# `docs/X.md`, `scripts/env.sh`, `../elsewhere/file.md`: a path with a folder and an extension.
PATH = re.compile(r"`(?P<target>(?:\.\./)*[\w.-]+/[\w./-]*\.\w+)`")


# Where a reader looks for a path the docs give without its top folder (`spotify_agent/...`).
PACKAGE_ROOTS = ("", "include", "plugins", "plugins/spotify_agent_airflow")


def dead_references(doc: Path, root: Path = PROJECT_DIR) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    found = []
    for pattern in (LINK, PATH):
        for match in pattern.finditer(text):
            target = match["target"]
            if target.startswith(("http://", "https://", "mailto:", "s3://", "var/")):
                continue  # web pages, object keys, files the project makes when it runs
            resolved = [(doc.parent / target).resolve()]
            resolved += [(root / base / target).resolve() for base in PACKAGE_ROOTS]
            inside = [p for p in resolved if p.is_relative_to(root.resolve())]
            if not any(p.exists() for p in inside):
                found.append(f"{doc.relative_to(root)}: {target}")
    return found


def test_every_file_the_docs_name_exists_in_the_repository() -> None:
    assert [ref for doc in DOCS for ref in dead_references(doc)] == []


def test_a_reference_outside_the_repository_is_dead(tmp_path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "EXTENDING.md").write_text("# Extending\n")
    probe = tmp_path / "docs" / "ARCHITECTURE.md"
    probe.write_text("See `../shared/DESIGN.md`, [the guide](EXTENDING.md) and `docs/NOPE.md`.")

    assert dead_references(probe, root=tmp_path) == [
        "docs/ARCHITECTURE.md: ../shared/DESIGN.md",
        "docs/ARCHITECTURE.md: docs/NOPE.md",
    ]
