"""The Dockerfile builds on the Airflow release we pin and copies only files that exist.

No Docker engine runs on CI machines, so these checks read the file; hadolint lints it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DOCKERFILE = PROJECT_DIR / "Dockerfile"


def _pinned(package: str, text: str) -> str:
    match = re.search(rf"^{re.escape(package)}(?:\[[^\]]*\])?==([\w.]+)$", text, re.MULTILINE)
    assert match, f"{package} is not pinned with =="
    return match.group(1)


def test_base_image_is_the_pinned_airflow_release_and_python() -> None:
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    airflow = _pinned("apache-airflow", (PROJECT_DIR / "constraints.txt").read_text())
    assert airflow == _pinned("apache-airflow", (PROJECT_DIR / "requirements.txt").read_text())
    assert base == f"apache/airflow:{airflow}-python3.11"


def test_every_copied_file_exists() -> None:
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY"):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources += parts[:-1]
    assert sources, "the Dockerfile copies nothing"
    missing = [source for source in sources if not (PROJECT_DIR / source).exists()]
    assert missing == []


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
