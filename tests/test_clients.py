"""The core's clients outside the package (the benchmarks and the scripts) import the public verbs of ``jcas``,
the second tier of documented modules, or an internal that a benchmark measures and names here; the plugin's
imports are held by an import-linter contract (pyproject.toml)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Modules a client may import beside ``jcas`` itself (docs/architecture.md, "What clients import").
SECOND_TIER = {
    "jcas.settings", "jcas.errors", "jcas.device", "jcas.cli", "jcas.review", "jcas.dataset_session",
    "jcas.data.io", "jcas.data.pairs", "jcas.data.labels", "jcas.data.samples", "jcas.data.class_names",
    "jcas.data.noise", "jcas.data.realistic_noise", "jcas.data.synthetic",
    "jcas.correction.stream", "jcas.correction.prediction", "jcas.correction.results", "jcas.correction.regions",
    "jcas.correction.boundary", "jcas.evaluation.metrics", "jcas.evaluation.mask_quality",
}
#: Internals a benchmark measures, by file: what it times or compares is the internal itself.
MEASURED = {
    "quality.py": {"jcas.nn.calibration", "jcas.nn.crossfit"},  # plain temperature scaling against the core's
    "harness.py": {"jcas.nn.crossfit"},  # the folds the core chooses for each set (which rows are the product's)
    "region_chance.py": {"jcas.correction.guard"},  # the regions the guard withholds for their support
    "guard.py": {"jcas.correction.guard"},  # the guard's class floor against other rules
    "memory.py": {"jcas.data.stream", "jcas.training.dataset"},  # the slice cache's memory
    "speed.py": {"jcas.nn.model", "jcas.nn.affinity", "jcas.nn.affinity_reasoning"},  # the network's steps
}


def jcas_imports(path: Path) -> set[str]:
    """The ``jcas`` modules a file imports (``from jcas.x import ...``, ``import jcas.x``), anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "jcas":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "jcas"}
    return found


CLIENTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


@pytest.mark.parametrize("path", CLIENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_client_imports_the_verbs_the_second_tier_or_what_it_measures(path):
    allowed = {"jcas"} | SECOND_TIER | MEASURED.get(path.name, set())
    assert jcas_imports(path) <= allowed, f"{path.name} reaches {sorted(jcas_imports(path) - allowed)}"


def test_the_lists_name_real_modules_and_every_measured_internal_is_used():
    import importlib

    for module in SECOND_TIER | set().union(*MEASURED.values()):
        importlib.import_module(module)
    for name, internals in MEASURED.items():
        assert internals <= jcas_imports(ROOT / "benchmarks" / name), name
