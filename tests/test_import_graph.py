"""Imports only go downward: djml core → djml.models → djml.daemon / djml.tui → the CLI.

Read from the source with ``ast`` (every import counts, also one inside a function: a
lazy import is still a dependency), so a cycle between the core and the models package,
or the TUI reaching into the daemon, fails here rather than as an import error one day.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package name -> source folder (pyproject.toml's package-dir)
PACKAGES = {"djml": ROOT / "djml", "djml.models": ROOT / "models", "djml.daemon": ROOT / "daemon",
            "djml.tui": ROOT / "tui", "djml.migrations": ROOT / "migrations"}
LAYER = {"core": 0, "migrations": 0, "models": 1, "daemon": 2, "tui": 2, "cli": 3}


def module_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(PACKAGES[package]).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "__pycache__" not in path.parts:
                found[module_name(package, path)] = path
    return found


def part(module: str) -> str:
    """Which layer a djml module belongs to."""
    if module == "djml.cli" or module.startswith("djml.commands"):
        return "cli"
    for name in ("models", "daemon", "tui", "migrations"):
        if module == f"djml.{name}" or module.startswith(f"djml.{name}."):
            return name
    return "core"


def imports(module: str, path: Path) -> set[str]:
    """Every djml module ``module`` imports (resolved to the longest known module name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                prefix = ".".join(anchor + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets.add(prefix)
            targets.update(f"{prefix}.{alias.name}" for alias in node.names)
    return {t for t in targets if t == "djml" or t.startswith("djml.")}


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for module, path in known.items():
        resolved = set()
        for target in imports(module, path):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]   # "from djml.x import name" names no module
            if target in known and target != module:
                resolved.add(target)
        edges[module] = resolved
    return edges


def upward(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in edges.items():
        for target in targets:
            if target == "djml":   # the package itself (djml.version()) is core
                continue
            src, dst = part(module), part(target)
            if LAYER[dst] > LAYER[src] or (LAYER[dst] == LAYER[src] and src != dst):
                wrong.append(f"{module} ({src}) imports {target} ({dst})")
    return sorted(wrong)


def package_cycles(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    between = {(part(a), part(b)) for a, targets in edges.items() for b in targets if b != "djml"}
    return sorted((a, b) for a, b in between if a != b and (b, a) in between)


def test_imports_only_go_downward():
    edges = graph()
    assert len(edges) > 100   # the walk found the source
    assert upward(edges) == []
    assert package_cycles(edges) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    edges = {"djml.query": {"djml.models.cf"}, "djml.models.cf": {"djml.query"},
             "djml.tui.app": {"djml.daemon.service"}, "djml.commands.act": {"djml.models.actions"}}
    assert upward(edges) == ["djml.query (core) imports djml.models.cf (models)",
                             "djml.tui.app (tui) imports djml.daemon.service (daemon)"]
    assert package_cycles(edges) == [("core", "models"), ("models", "core")]


@pytest.mark.parametrize("word", ["sqlite3", "djml.db", "db.connect", "from djml import db"])
def test_the_tui_never_opens_the_database(word):
    """Everything the TUI shows comes over the socket (it may run on a laptop, the
    library on a server)."""
    hits = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "tui").rglob("*.py")
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if word in line]
    assert hits == []


@pytest.mark.parametrize("argv", [["--help"], ["ls"], ["show", "1"], ["status"], ["label", "1", "x"]])
def test_one_shots_stay_free_of_numerical_libraries(argv, djml_home):
    """The action table and the ranker moved, the commands did not get heavier: these
    answer without numpy, torch or scikit-learn (a label is one socket call or one write)."""
    import os
    import subprocess
    import sys

    subprocess.run([str(Path(sys.executable).with_name("djml")), "init"], check=True, capture_output=True,
                   env={**os.environ, "DJML_HOME": str(djml_home)}, timeout=60)
    code = ("import sys\nfrom djml.cli import cli\n"
            f"try:\n    cli.main({argv!r}, standalone_mode=False)\nexcept BaseException:\n    pass\n"
            "print([m for m in ('numpy', 'torch', 'sklearn', 'librosa', 'textual') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DJML_HOME": str(djml_home)})
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr
