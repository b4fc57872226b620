"""README.fr.md and README.de.md show the same commands as README.md, and the three link up.

README.md is the reference. A translation may shorten its prose, but a reader who follows it
must type exactly what README.md says, so when README.md gains, loses or changes a command this
test names the command and the translation that has to follow.

"The commands a README shows", extracted the same way from every file:

1. Each command of a fenced code block tagged `bash`, `sh`, `shell`, `zsh` or `console`, as
   the shell reads it: comment lines and trailing `# comments` are dropped (a `#` inside quotes
   or inside a word is not a comment), a backslash-continued line is joined to the next, and
   runs of whitespace outside quotes count as one space, so re-aligned comments and
   re-indented continuations compare equal. In a `console` block only `$ ` lines (and their
   continuations) are commands; the rest is output. Comments may therefore be translated;
   commands may not. Heredocs are not understood (README.md has none).
2. `make <target>` for each Make target named in inline code (`make restore DATE=...` gives
   `make restore`) or at the start of a line of an untagged code block (the "Make targets"
   list), so each translation names every target README.md names, however it phrases the rest.

Untagged code blocks are otherwise not commands: README.md uses them for sample output, the
directory layout and the Make targets list, whose descriptions are translated. Blocks in other
languages (yaml, python, json, ...) are not compared. Both rules together mean: every shell code
block of README.md appears, command for command, in each translation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

REFERENCE = PROJECT_DIR / "README.md"
TRANSLATIONS = [PROJECT_DIR / "README.fr.md", PROJECT_DIR / "README.de.md"]

SHELL_LANGUAGES = {"bash", "sh", "shell", "zsh", "console"}
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
# A span opens with a run of backticks and closes with a run of the same length.
INLINE_CODE = re.compile(r"(?<!`)(?P<ticks>`+)(?!`)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)", re.S)
MAKE_TARGET = re.compile(r"(?<![\w-])make\s+(?P<target>[a-z][\w-]*)")
LISTED_TARGET = re.compile(r"^\s*make\s+(?P<target>[a-z][\w-]*)")


def shell_commands(script: str, first_line: int = 1) -> dict[str, int]:
    """The commands of a shell script, normalised as the module docstring says, each with the
    line it starts on."""
    commands: dict[str, int] = {}
    current: list[str] = []
    quote: str | None = None
    space = False  # whitespace seen since the last character kept
    line = start = first_line
    i = 0

    def keep(text: str) -> None:
        nonlocal space, start
        if not current:
            start = line
        elif space:
            current.append(" ")
        current.append(text)
        space = False

    while i < len(script):
        char, following = script[i], script[i + 1 : i + 2]
        if quote is not None:  # inside quotes everything is kept as written
            current.append(char)
            line += char == "\n"
            if quote == '"' and char == "\\" and following:
                current.append(following)
                line += following == "\n"
                i += 1
            elif char == quote:
                quote = None
        elif char == "\\" and following == "\n":  # continued on the next line
            space, line, i = True, line + 1, i + 1
        elif char == "\\":
            keep(char + following)
            i += 1
        elif char in "'\"":
            keep(char)
            quote = char
        elif char == "#" and (not current or space):  # a comment runs to the end of the line
            end = script.find("\n", i)
            i = (len(script) if end < 0 else end) - 1
        elif char == "\n":
            if current:
                commands.setdefault("".join(current), start)
            current, space, line = [], False, line + 1
        elif char.isspace():
            space = True
        else:
            keep(char)
        i += 1
    if current:
        commands.setdefault("".join(current), start)
    return commands


def console_script(lines: list[str]) -> list[str]:
    """The input lines of a console transcript, prompts removed; output lines become blank."""
    script, continued = [], False
    for text in lines:
        stripped = text.strip()
        if stripped.startswith("$ ") or continued:
            script.append(stripped.removeprefix("$ ") if not continued else text)
            continued = stripped.endswith("\\")
        else:
            script.append("")  # keeps the line numbers
    return script


def _note(found: dict[str, int], command: str, line: int) -> None:
    found[command] = min(line, found.get(command, line))


def readme_commands(text: str) -> dict[str, int]:
    """Every command `text` (Markdown) shows, mapped to the line where it first appears."""
    found: dict[str, int] = {}
    prose: list[str] = []  # the text outside fenced blocks, blank lines in their place
    fence: str | None = None
    language = ""
    block: list[str] = []
    block_start = 0
    for number, text_line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(text_line)
        if fence is None and match:
            fence, language = match["fence"], (match["info"].split() or [""])[0].lower()
            block, block_start = [], number + 1
            prose.append("")
        elif fence is not None and text_line.strip().startswith(fence[0] * len(fence)):
            if text_line.strip().strip(fence[0]) == "":  # the closing fence
                _block_commands(language, block, block_start, found)
                fence = None
            else:
                block.append(text_line)
            prose.append("")
        elif fence is not None:
            block.append(text_line)
            prose.append("")
        else:
            prose.append(text_line)
    if fence is not None:  # an unclosed block runs to the end of the file, as in CommonMark
        _block_commands(language, block, block_start, found)
    joined = "\n".join(prose)
    for span in INLINE_CODE.finditer(joined):
        for make in MAKE_TARGET.finditer(span["code"]):
            line = joined.count("\n", 0, span.start("code") + make.start()) + 1
            _note(found, f"make {make['target']}", line)
    return found


def _block_commands(language: str, block: list[str], start: int, found: dict[str, int]) -> None:
    if language in SHELL_LANGUAGES:
        lines = console_script(block) if language == "console" else block
        for command, line in shell_commands("\n".join(lines), start).items():
            _note(found, command, line)
    elif language == "":
        for offset, text_line in enumerate(block):
            if listed := LISTED_TARGET.match(text_line):
                _note(found, f"make {listed['target']}", start + offset)


def command_differences(reference: Path, translation: Path) -> list[str]:
    """What `translation` lacks and adds against `reference`, one line per command."""
    expected = readme_commands(reference.read_text(encoding="utf-8"))
    shown = readme_commands(translation.read_text(encoding="utf-8"))
    missing = sorted(expected.keys() - shown.keys(), key=lambda command: expected[command])
    extra = sorted(shown.keys() - expected.keys(), key=lambda command: shown[command])
    ref, out = reference.name, translation.name
    return [
        *(f"missing from {out} ({ref} line {expected[c]}): {c}" for c in missing),
        *(f"extra in {out} line {shown[c]}, not in {ref}: {c}" for c in extra),
    ]


def links_at_top(text: str, target: str) -> bool:
    """Whether `text` links to `target` before its first section (`## ...`)."""
    top = re.split(r"^## ", text, maxsplit=1, flags=re.M)[0]
    return re.search(rf"\]\((?:\./)?{re.escape(target)}(?:#[^)]*)?\)", top) is not None


@pytest.mark.parametrize("translation", TRANSLATIONS, ids=lambda path: path.name)
def test_each_translation_shows_the_commands_of_readme(translation: Path) -> None:
    differences = command_differences(REFERENCE, translation)
    if differences:
        message = [
            f"{translation.name} does not show the same commands as {REFERENCE.name}:",
            *differences,
            f"Copy each missing command into {translation.name} unchanged (commands are not "
            f"translated, comments may be) and remove or correct each extra one.",
        ]
        pytest.fail("\n".join(message), pytrace=False)


@pytest.mark.parametrize("translation", TRANSLATIONS, ids=lambda path: path.name)
def test_each_translation_links_to_readme_as_the_reference(translation: Path) -> None:
    assert links_at_top(translation.read_text(encoding="utf-8"), REFERENCE.name), (
        f"{translation.name} must say at its top, before its first '## ' section, that "
        f"{REFERENCE.name} is the reference, with a link to it"
    )


def test_readme_links_to_every_translation() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    unlinked = [path.name for path in TRANSLATIONS if not links_at_top(text, path.name)]
    assert unlinked == [], f"{REFERENCE.name} must link to these at its top: {unlinked}"


def test_every_translation_is_checked() -> None:
    assert sorted(PROJECT_DIR.glob("README.*.md")) == sorted(TRANSLATIONS)


SNIPPET = """\
# Demo

Run `make demo` first, then `make restore DATE=latest`; `make` alone names no target, and
`. scripts/env.sh && SPOTIFY_TIER=development
make init` wraps.

```bash
# set up
. scripts/env.sh   # load the environment
python -m spotify_emulator serve --port 8765 \\
    --faults "rate=0.2,kinds=429+500"  # a trailing comment
echo 'a # not a comment' #a comment
```

```
make clean     remove var/
dags/          orchestration only
```

```python
print("not a command")
```

- In a list:

  ```console
  $ airflow dags list
  dag_id | fileloc
  ```
"""


def test_the_extractor_joins_continued_lines_and_drops_comments() -> None:
    assert readme_commands(SNIPPET) == {
        "make demo": 3,
        "make restore": 3,
        "make init": 5,
        ". scripts/env.sh": 9,
        'python -m spotify_emulator serve --port 8765 --faults "rate=0.2,kinds=429+500"': 10,
        "echo 'a # not a comment'": 12,
        "make clean": 16,
        "airflow dags list": 27,
    }


def test_the_failure_names_each_missing_and_extra_command(tmp_path: Path) -> None:
    reference, translation = tmp_path / "README.md", tmp_path / "README.fr.md"
    reference.write_text("```bash\nmake demo   # everything\nmake test\n```\n")
    translation.write_text("```sh\nmake demo   # tout\nmake tests\n```\n\nVoir `make up`.\n")

    assert command_differences(reference, translation) == [
        "missing from README.fr.md (README.md line 3): make test",
        "extra in README.fr.md line 3, not in README.md: make tests",
        "extra in README.fr.md line 6, not in README.md: make up",
    ]
