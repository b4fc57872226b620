"""docs/EXTENDING.md's Python snippets are what a newcomer copies: each passes the project's own
lint (ruff check and ruff format, the checks of `make lint`) as the file it says it is, and the
example DAG's documentation keeps the DAG policy's doc_md rule."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR
from tests.dags.policy import MIN_DOC_WORDS

GUIDE = PROJECT_DIR / "docs" / "EXTENDING.md"
SNIPPET = re.compile(r"```python\n(?P<code>.*?)```", re.S)


def snippets() -> list[str]:
    return [match["code"] for match in SNIPPET.finditer(GUIDE.read_text())]


def test_the_guide_has_its_four_snippets() -> None:
    assert len(snippets()) == 4


@pytest.mark.parametrize("index", range(4))
def test_each_snippet_passes_the_project_lint(index, tmp_path) -> None:
    code = snippets()[index]
    named = re.match(r"# (?P<path>[\w/.-]+\.py)\n", code)
    # A snippet named after its file is linted as that file (first-party imports sort as ours).
    path = tmp_path / (named["path"] if named else f"dags/snippet_{index}.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(PROJECT_DIR / "pyproject.toml")]
    checked = subprocess.run(
        [*ruff, "check", *config, "--no-cache", str(path)], capture_output=True, text=True
    )
    formatted = subprocess.run(
        [*ruff, "format", "--check", "--diff", *config, "--no-cache", str(path)],
        capture_output=True,
        text=True,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_example_dag_documents_itself_as_the_policy_asks() -> None:
    dag_file = next(code for code in snippets() if "@dag(" in code)
    doc = re.match(r'"""\n(?P<doc>.*?)"""', dag_file, re.S)["doc"]

    assert doc.splitlines()[0] == "### tidy_quarantine"
    assert len(doc.split()) >= MIN_DOC_WORDS
