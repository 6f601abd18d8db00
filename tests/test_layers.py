"""The architecture as a test: core's packages are layers, imports point down (or sideways within a layer)
only, nothing imports in a circle, core knows nothing of Streamlit or the app, and pages stay thin.

Every import counts, at the top of a module or inside a function: a lazy import still ties the two modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# the layer of each part of core, lowest first (core/__init__.py's docstring says the same)
LAYERS = {
    "core": 0, "core.settings": 0, "core.labels": 0, "core.files": 0, "core.processes": 0, "core.records": 0,
    "core.malloc": 0, "core.native": 0, "core.results": 0,
    "core.data": 1,
    "core.models": 2,
    "core.config": 3, "core.evaluate": 3, "core.paired": 3, "core.calibration": 3,
    "core.runs": 4,
    "core.predict": 5,
    "core.train": 6, "core.video": 6,
    "core.jobs": 7, "core.workflows": 7, "core.docs": 7,
    "core.cli": 8, "core.__main__": 9,
}


def module_name(path: Path, base: Path = ROOT) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules(package: str = "core") -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` imports (any depth of the file), resolved like Python does:
    `from pkg import sub` is the submodule when there is one, else the package itself."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    here = name if is_pkg else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import core.predict.frame.x` -> the deepest module that exists
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph(package: str = "core") -> dict[str, set[str]]:
    mods = all_modules(package)
    known = set(mods) | set(all_modules("core"))
    return {m: imports_of(m, p, known) for m, p in mods.items()}


def layer_of(module: str) -> int:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(f"{module} has no layer: add it to LAYERS (and to core/__init__.py's docstring)")


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, as the list of modules around it, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(g.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def layer_violations(g: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} (layer {layer_of(m)}) imports {n} (layer {layer_of(n)})"
                  for m, targets in g.items() for n in targets
                  if n.startswith("core") and layer_of(n) > layer_of(m))


def test_every_module_of_core_has_a_layer():
    for m in all_modules():
        layer_of(m)


def test_core_has_no_import_circle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()))


def test_core_imports_point_down_only():
    assert layer_violations(graph()) == []


def test_the_checks_catch_a_circle_and_an_upward_import():
    """The two checks on a made-up graph: a circle of three, and a low layer importing a high one."""
    g = {"core.runs": {"core.predict.catalogue"}, "core.predict.catalogue": {"core.predict.cnn"},
         "core.predict.cnn": {"core.runs"}}
    assert find_cycle(g) in (["core.runs", "core.predict.catalogue", "core.predict.cnn", "core.runs"],
                             ["core.predict.catalogue", "core.predict.cnn", "core.runs", "core.predict.catalogue"])
    assert layer_violations(g) == ["core.runs (layer 4) imports core.predict.catalogue (layer 5)"]


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_knows_nothing_of_streamlit_or_the_app(path):
    assert not _third_party(path) & {"streamlit", "streamlit_webrtc", "ui", "app_pages"}


def test_ui_and_pages_point_down():
    """ui imports core (and itself), never a page; pages import ui and core, never each other."""
    for path in sorted((ROOT / "ui").rglob("*.py")):
        assert "app_pages" not in _third_party(path), path
    for path in sorted((ROOT / "app_pages").glob("*.py")):
        assert "app_pages" not in _third_party(path), path


@pytest.mark.parametrize("folder", ["core", "ui", "app_pages"])
def test_no_file_over_500_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / folder).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) >= 500}
    assert long == {}


@pytest.mark.parametrize("folder", ["core", "ui", "app_pages"])
def test_no_function_over_60_lines(folder):
    """A function reads in one screen (a class with several such functions is how a long job is written:
    core.train.loop's _Training, core.jobs.search's Objective, core.video.analyse's _Run)."""
    long = {}
    for p in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long[f"{p.relative_to(ROOT)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert long == {}


def _private_names_imported(path: Path) -> list[str]:
    """Names starting with one underscore that a module imports from another module (its private parts)."""
    return [f"{node.module}.{a.name}" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module != "__future__"
            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]


def _edits_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        target = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            target = next(iter(getattr(node, "targets", [getattr(node, "target", None)])), None)
        if (isinstance(target, ast.Attribute) and target.attr == "path" and isinstance(target.value, ast.Name)
                and target.value.id == "sys"):
            return True
    return False


def test_the_app_the_tests_and_the_benchmarks_share_code_through_the_harness_only():
    """The app never imports the harness, the tests or the benchmarks; the benchmarks and the harness never import
    the tests; no test edits sys.path (pytest puts the repository on it); the app's modules use one another's
    public names only."""
    app = [ROOT / "Home.py"] + [p for f in ("core", "ui", "app_pages") for p in sorted((ROOT / f).rglob("*.py"))]
    assert [str(p) for p in app if _third_party(p) & {"harness", "tests", "bench"}] == []
    shared = sorted((ROOT / "bench").glob("*.py")) + sorted((ROOT / "harness").rglob("*.py"))
    assert [str(p) for p in shared if "tests" in _third_party(p)] == []
    assert [str(p) for p in sorted((ROOT / "tests").rglob("*.py")) if _edits_sys_path(p)] == []
    assert {str(p.relative_to(ROOT)): names for p in app if (names := _private_names_imported(p))} == {}


def test_the_sys_path_check_sees_an_edit(tmp_path):
    for code, edits in (("import sys\nsys.path.insert(0, 'x')\n", True), ("import sys\nsys.path = []\n", True),
                        ("import sys\nprint(sys.path)\n", False)):
        (tmp_path / "m.py").write_text(code)
        assert _edits_sys_path(tmp_path / "m.py") is edits
