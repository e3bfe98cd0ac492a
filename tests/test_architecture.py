"""The layout's rules, checked by reading the imports of every module under bot/ (no import runs).

- python-telegram-bot is imported only under bot/telegram/;
- torch and sentence-transformers only in the dense embedding module;
- nothing imports bot.cli; bot.storage imports nothing from bot.search;
- no import cycles between modules of bot/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
EMBEDDING_MODULE = "bot.search.embedding"


def module_name(path: Path, root: Path = BOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = BOT) -> set[str]:
    """Every module `path` imports, at any depth of the file (also inside functions)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            # "from bot.search import analyzer" imports the module bot.search.analyzer.
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def graph(root: Path = BOT) -> dict[str, set[str]]:
    """Module -> the modules of bot/ it imports; and external imports under the key's '!ext' twin."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    return {name: imports_of(path, root) for name, path in modules.items()}


def violations(root: Path = BOT) -> list[str]:
    """Every broken rule, one line each."""
    deps = graph(root)
    ours = set(deps)
    problems = []
    for module, imported in sorted(deps.items()):
        top = {i.split(".")[0] for i in imported}
        if "telegram" in top and not module.startswith("bot.telegram"):
            problems.append(f"{module} imports python-telegram-bot (only bot/telegram/ may)")
        if top & {"torch", "sentence_transformers", "transformers"} and module != EMBEDDING_MODULE:
            problems.append(f"{module} imports torch/sentence-transformers (only {EMBEDDING_MODULE} may)")
        if "bot.cli" in imported and module != "bot.cli":
            problems.append(f"{module} imports bot.cli (nothing may)")
        if module == "bot.storage" and any(i.startswith("bot.search") for i in imported):
            problems.append("bot.storage imports from bot.search")
    edges = {m: {i for i in imported if i in ours and i != m} for m, imported in deps.items()}
    for cycle in cycles(edges):
        problems.append("import cycle: " + " -> ".join(cycle + [cycle[0]]))
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_layout_rules_hold() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    "module, line, expected",
    [
        ("search/retriever.py", "from telegram import Update", "bot.search.retriever imports python-telegram-bot"),
        ("knowledge/load.py", "import torch", "bot.knowledge.load imports torch"),
        ("telegram/handlers.py", "from bot.cli import main", "bot.telegram.handlers imports bot.cli"),
        ("storage.py", "from bot.search.retriever import SearchResult", "bot.storage imports from bot.search"),
        ("search/passages.py", "from bot.search import index", "import cycle: bot.search.index -> "),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, module: str, line: str, expected: str) -> None:
    import shutil

    copy = tmp_path / "bot"
    shutil.copytree(BOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    found = violations(copy)
    assert any(expected in v for v in found), found


def test_imports_inside_functions_count_too(tmp_path: Path) -> None:
    pkg = tmp_path / "bot"
    (pkg / "search").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "search" / "__init__.py").write_text("")
    (pkg / "search" / "x.py").write_text("def f():\n    import telegram\n")
    assert violations(pkg) == ["bot.search.x imports python-telegram-bot (only bot/telegram/ may)"]
