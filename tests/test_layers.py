"""Dependencies run one way: `ingest` uses `finder`, `finder` never imports `ingest`; and
the `groupfinder` command still has ingestion's commands, which ingest registers itself (a
`flask.commands` entry point) rather than finder importing them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from finder import ROOT
from finder.cli import command_group

FINDER = ROOT / "finder"


def ingest_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import of `ingest` in `source`, at any depth: module level,
    inside functions, `importlib.import_module("ingest...")` and `__import__`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("import_module", "__import__"))):
            names = [node.args[0].value]
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "ingest" or n.startswith("ingest.")]
    return found


def test_the_check_sees_every_way_of_importing_ingest():
    source = ("import ingest\nimport ingest.runner as r\nfrom ingest.cli import x\n"
              "def f():\n    from ingest import fetch\n"
              "importlib.import_module('ingest.fold')\n__import__('ingest')\n"
              "import ingestion_tools\nfrom finder.listings import store\n")
    assert [line for line, _ in ingest_imports(source)] == [1, 2, 3, 5, 6, 7]


def test_finder_imports_nothing_from_ingest():
    files = sorted(FINDER.rglob("*.py"))
    assert FINDER / "listings" / "store.py" in files and FINDER / "health.py" in files
    offending = [f"{path.relative_to(ROOT)}:{line}: {module}"
                 for path in files
                 for line, module in ingest_imports(path.read_text(encoding="utf-8"))]
    assert offending == []


def test_groupfinder_help_lists_the_ingestion_commands(app):
    result = app.test_cli_runner().invoke(command_group(), args=["--help"])
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:", 1)[1].split()
    assert "ingest" in commands and "sources" in commands and "db" in commands


def test_the_installed_groupfinder_script_runs_the_ingestion_commands():
    """The console script as `make run` and cron use it: the entry points are installed."""
    script = Path(sys.executable).with_name("groupfinder")
    listed = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "Pull listings from the declared sources." in listed.stdout
    sources = subprocess.run(
        [script, "sources", "list", "--sources", str(ROOT / "ingest" / "sources.toml")],
        capture_output=True, text=True, timeout=120)
    assert sources.returncode == 0, sources.stderr
    assert "chelsea-medical-bereavement" in sources.stdout
