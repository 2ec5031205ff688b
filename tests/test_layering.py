"""Imports point one way: api -> compliance -> bot -> (retrieval, privacy) -> core; ingest -> (retrieval, privacy)
-> core. Inside `bot`, the desk may use the turn and the channel, the channel the turn, the turn neither. Nothing
that ships imports `testing`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "core": set(),
    "privacy": {"core"},
    "retrieval": {"core"},
    "ingest": {"core", "privacy", "retrieval"},
    "bot": {"core", "privacy", "retrieval"},
    "compliance": {"core", "privacy", "retrieval", "bot"},
    "api": {"core", "privacy", "retrieval", "ingest", "bot", "compliance"},
}
BOT_PARTS = {"turn": set(), "channel": {"turn"}, "desk": {"turn", "channel"}}


def _modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_packages_import_only_downwards() -> None:
    violations = []
    for package, allowed in ALLOWED.items():
        for path in (ROOT / package).rglob("*.py"):
            for imported in _imports(path) & {*ALLOWED, "testing", "tests"}:
                if imported != package and imported not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert violations == []


def test_the_bots_parts_import_only_downwards() -> None:
    violations = []
    for part, allowed in BOT_PARTS.items():
        for path in (ROOT / "bot" / part).rglob("*.py"):
            for module in _modules(path):
                parts = module.split(".")
                if parts[0] == "bot" and len(parts) > 2 and parts[1] not in {part, *allowed}:
                    violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert violations == []


def test_importing_the_app_loads_no_heavy_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys, api.main, api.cli; "
        "heavy = [m for m in ('torch', 'presidio_analyzer', 'spacy', 'sentence_transformers', 'chromadb') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == ""


def test_building_the_analyzer_leaves_transformers_unimported() -> None:
    """Presidio's transformers engine is never built, so its import (2.5 s a process start) is skipped; the
    analyzer's recognizers are the same either way."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "if sys.argv[1] == 'preloaded': import transformers\n"
        "from privacy.detect import build_analyzer\n"
        "names = sorted(r.name for r in build_analyzer('mock').registry.recognizers)\n"
        "print('transformers' in sys.modules, names)\n"
    )

    def run(mode: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, cwd=ROOT, check=True
        )
        return result.stdout.strip()

    skipped, preloaded = run("skipped"), run("preloaded")
    assert skipped.startswith("False ")
    assert preloaded.startswith("True ")
    assert skipped.removeprefix("False ") == preloaded.removeprefix("True ")
