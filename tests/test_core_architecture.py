"""The shape of the code that import-linter cannot state (its contracts in pyproject.toml keep the floors
one-way): built-in methods use only the public plugin surface, no module of the repository imports itself
back through others, no file under emobench/ is over the size limit, and no test module imports another
test module (shared helpers live in tests/support/)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from emobench.api import PUBLIC_MODULES

# a method's runtime imports: the public surface less the test kits
PUBLIC = set(PUBLIC_MODULES) - {"emobench.testing"}
MAX_LINES = 400


def imports(path: Path, module: str) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import in ``path`` (module-level, local or TYPE_CHECKING)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            out.append((node.lineno, base, [a.name for a in node.names]))
    return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_builtin_methods_import_only_the_public_plugin_surface():
    bad = []
    for pkg in ("baselines", "emogen"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, mod, _ in imports(path, module_name(path)):
                if mod.split(".")[0] == "emobench" and mod not in PUBLIC:
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, "built-in methods may import only " + ", ".join(sorted(PUBLIC)) + ":\n" + "\n".join(bad)


PACKAGES = ("emobench", "baselines", "emogen")


def _graph() -> dict[str, set[str]]:
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        deps = set()
        for _, target, names in imports(path, mod):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in files]
            deps.update(subs)
            if target in files and len(subs) < len(names or [None]):  # names taken from the module itself
                deps.add(target)
        deps.discard(mod)
        graph[mod] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_repository_has_no_import_cycles():
    """Every import counts, function-local and TYPE_CHECKING ones too: a cycle hidden in a local import is
    still two modules that cannot be understood (or moved) one without the other. import-linter's contracts
    (pyproject.toml, run by scripts/test.sh) keep the floors one-way; this keeps every file acyclic."""
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_emobench_file_is_over_the_size_limit():
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "emobench").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"files over {MAX_LINES} lines (split them by job): {big}"


def test_no_test_module_imports_another():
    tests = ROOT / "tests"
    local = {p.stem for p in tests.glob("*.py")}
    bad = [f"{p.name}:{line} imports {mod}" for p in sorted(tests.rglob("*.py"))
           for line, mod, _ in imports(p, "tests." + p.stem) if mod.split(".")[0] in local]
    assert not bad, "test modules import each other (move shared code to tests/support/):\n" + "\n".join(bad)
