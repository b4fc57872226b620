"""The layers, kept by reading every module's imports (lazy ones inside functions included).

- ``include/`` is plain Python: no Airflow, no ``plugins/``; it runs and tests without Airflow.
- The bundled Spotify emulator (``spotify_emulator``) is a demo and test server beside the
  business package: neither imports the other.
- The business package's domains depend on each other without cycles.
- Each project command (``commands/``) is a module of its own of at most 250 lines.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

INCLUDE = PROJECT_DIR / "include"
BUSINESS = INCLUDE / "spotify_agent"
EMULATOR = INCLUDE / "spotify_emulator"
COMMANDS = PROJECT_DIR / "plugins" / "spotify_agent_airflow" / "commands"
CLI = PROJECT_DIR / "plugins" / "spotify_agent_airflow" / "cli.py"


def imported_modules(path: Path) -> Iterator[str]:
    """Every absolute module name ``path`` imports, at top level or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _importers(folder: Path, prefix: str) -> list[str]:
    return sorted(
        f"{path.relative_to(PROJECT_DIR)} imports {name}"
        for path in folder.rglob("*.py")
        for name in set(imported_modules(path))
        if name == prefix or name.startswith(f"{prefix}.")
    )


@pytest.mark.parametrize("forbidden", ["airflow", "spotify_agent_airflow"])
def test_include_never_imports_airflow_or_the_plugins(forbidden: str) -> None:
    assert _importers(INCLUDE, forbidden) == []


def test_the_business_package_and_the_emulator_never_import_each_other() -> None:
    assert _importers(BUSINESS, "spotify_emulator") == []
    assert _importers(EMULATOR, "spotify_agent") == []


def domain_graph() -> dict[str, set[str]]:
    """Which domain package of ``spotify_agent`` imports which other one."""
    domains = {path.name for path in BUSINESS.iterdir() if (path / "__init__.py").exists()}
    graph: dict[str, set[str]] = {domain: set() for domain in domains}
    for domain in domains:
        for path in (BUSINESS / domain).rglob("*.py"):
            for name in imported_modules(path):
                parts = name.split(".")
                if parts[0] == "spotify_agent" and len(parts) > 1 and parts[1] in domains:
                    if parts[1] != domain:
                        graph[domain].add(parts[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each dependency cycle once, as the path that closes it."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_the_domains_depend_on_each_other_without_cycles() -> None:
    graph = domain_graph()

    assert {"analytics", "content", "core", "warehouse"} <= set(graph)
    assert cycles(graph) == []
    # The bottom layers: the schema uses no domain; core (audit, quarantine) only the schema.
    assert graph["warehouse"] == set()
    assert graph["core"] <= {"warehouse"}


def documented_domain_graph() -> dict[str, set[str]]:
    """The graph docs/ARCHITECTURE.md states: "`analytics -> core, warehouse`; ..."."""
    text = " ".join((PROJECT_DIR / "docs" / "ARCHITECTURE.md").read_text().split())
    stated = text.split("Today's domain graph: ", 1)[1].split(". ", 1)[0]
    graph = {}
    for edge in re.findall(r"`(\w+) -> ([\w, ]+)`", stated):
        graph[edge[0]] = {name.strip() for name in edge[1].split(",")}
    return graph


def test_the_domain_graph_is_the_one_the_architecture_page_states() -> None:
    # A new edge (a domain reaching into another) is a design decision: say it in the docs.
    actual = {domain: targets for domain, targets in domain_graph().items() if targets}

    assert actual == documented_domain_graph()


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_each_command_is_a_module_of_its_own_and_short() -> None:
    lengths = {
        str(path.relative_to(PROJECT_DIR)): len(path.read_text().splitlines())
        for path in [CLI, *COMMANDS.glob("*.py")]
    }

    assert {path: n for path, n in lengths.items() if n > 250} == {}
    assert lengths[str(CLI.relative_to(PROJECT_DIR))] <= 60, "cli.py only assembles the parser"


OPERATORS = PROJECT_DIR / "plugins" / "spotify_agent_airflow" / "operators"
MAX_FUNCTION_LINES = 40
MAX_BUSINESS_NAMES = 3


def business_names(path: Path) -> set[str]:
    """The names an operator module takes from ``spotify_agent`` (modules and members)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "spotify_agent" or node.module.startswith("spotify_agent."):
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {
                alias.name
                for alias in node.names
                if alias.name == "spotify_agent" or alias.name.startswith("spotify_agent.")
            }
    return names


def long_functions(path: Path) -> dict[str, int]:
    return {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }


def operator_problems(path: Path) -> list[str]:
    problems = [f"{name} is {n} lines" for name, n in long_functions(path).items()]
    names = business_names(path)
    if len(names) > MAX_BUSINESS_NAMES:
        problems.append(f"{len(names)} names from spotify_agent: {sorted(names)}")
    return problems


def test_thin_operators_call_one_use_case() -> None:
    """An operator builds the ports from hooks and calls its job in include/: every function at
    most 40 lines, at most 3 names from the business package."""
    modules = sorted(path for path in OPERATORS.glob("*.py") if path.name != "__init__.py")
    problems = {path.name: operator_problems(path) for path in modules}

    assert {name: found for name, found in problems.items() if found} == {}


def test_the_operator_rules_catch_a_thick_operator(tmp_path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(41))
    thick = tmp_path / "thick.py"
    thick.write_text(
        "from spotify_agent.a import b, c\nfrom spotify_agent.d import e\n"
        "import spotify_agent.f\n\n\ndef execute(context):\n" + body + "\n"
    )

    assert operator_problems(thick) == [
        "execute is 42 lines",
        "4 names from spotify_agent: ['spotify_agent.a.b', 'spotify_agent.a.c', "
        "'spotify_agent.d.e', 'spotify_agent.f']",
    ]
