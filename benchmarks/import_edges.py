"""Import edges from the application layer (src/stocksync/app/) into the adapters: how
many `import`/`from` statements in app/**/*.py target stocksync.storage,
stocksync.channels or stocksync.api, per target package and per module (every statement
counts, also those inside functions or under TYPE_CHECKING).

    .venv/bin/python -m benchmarks.import_edges              # the working tree
    .venv/bin/python -m benchmarks.import_edges --ref HEAD   # a git revision
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = "src/stocksync/app"
TARGETS = ("stocksync.storage", "stocksync.channels", "stocksync.api")


def sources(ref: str | None) -> Iterator[tuple[str, str]]:
    """(path, text) of every module of app/, from the working tree or a git revision."""
    if ref is None:
        for path in sorted((ROOT / APP).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text()
        return
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", ref, APP], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.split()
    for path in sorted(p for p in listed if p.endswith(".py")):
        yield path, subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, check=True,
                                   capture_output=True, text=True).stdout


def targets_of(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The adapter packages one import statement reaches (a statement counts once)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.module == "stocksync":  # from stocksync import storage
        names = [f"stocksync.{alias.name}" for alias in node.names]
    else:
        names = [node.module or ""]
    return {t for t in TARGETS for name in names if name == t or name.startswith(t + ".")}


def count(ref: str | None) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    per_target: Counter[str] = Counter()
    per_module: Counter[tuple[str, str]] = Counter()
    for path, text in sources(ref):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in targets_of(node):
                    per_target[target] += 1
                    per_module[(path.removeprefix(APP + "/"), target)] += 1
    return per_target, per_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", help="a git revision to count in (default: working tree)")
    args = parser.parse_args()
    per_target, per_module = count(args.ref)
    print(f"import edges from app/ ({args.ref or 'working tree'}): {sum(per_target.values())}")
    for target in TARGETS:
        print(f"  {target:<22} {per_target[target]:>3}")
    print("per module:")
    for (module, target), n in sorted(per_module.items()):
        print(f"  {module:<28} {target.removeprefix('stocksync.'):<10} {n:>3}")


if __name__ == "__main__":
    main()
