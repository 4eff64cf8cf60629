"""Runtime dependencies are what the running code imports: every third-party module that
cli/, pipelines/, boundaries/ and geo_service/ import is a declared runtime dependency, and every
declared runtime dependency is imported by them (esda and libpysal, the references our
statistics are checked against, stay in the dev extra)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("cli", "pipelines", "boundaries", "geo_service")
# Imported by running code only to hand results to the test references.
REFERENCE_BRIDGES = {"libpysal": "pipelines/analysis/neighbours.py"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_modules() -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere in the runtime packages -> files."""
    found: dict[str, set[str]] = {}
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in RUNTIME_PACKAGES:
                        continue
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_runtime_dependencies_are_exactly_what_the_code_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    distributions = packages_distributions()
    imported: dict[str, set[str]] = {}
    for module, files in _imported_modules().items():
        for dist in distributions.get(module, [module]):
            imported.setdefault(dist.lower().replace("_", "-"), set()).update(files)
    for bridge, home in REFERENCE_BRIDGES.items():
        assert imported.pop(bridge, set()) <= {home}, f"{bridge} is imported beyond {home}"
    undeclared = {dist: files for dist, files in imported.items() if dist not in declared}
    assert not undeclared, f"imported but not runtime dependencies: {undeclared}"
    unused = declared - set(imported)
    assert not unused, f"runtime dependencies nothing imports (move to an extra): {unused}"


def test_the_references_are_dev_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    runtime = {_name(r) for r in project["dependencies"]}
    assert {"esda", "libpysal"} <= dev
    assert not {"esda", "libpysal", "scikit-learn"} & runtime


def _constraints() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {name: version for name, version in pairs}


def test_the_docker_build_installs_pinned_versions_of_every_runtime_dependency() -> None:
    """constraints.txt (tools/runtime_constraints.py) pins each runtime dependency at a version
    pyproject allows, and the Dockerfile installs through it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = _constraints()
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in constraints.txt: run tools/runtime_constraints.py"
        assert requirement.specifier.contains(pinned[name]), (name, pinned[name])
    assert not {"esda", "pytest", "ruff", "schemathesis"} & set(pinned)
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = dockerfile.splitlines()
    copied = next(line for line in lines if line.startswith("COPY pyproject.toml"))
    assert {"README.md", "constraints.txt"} <= set(copied.split())
    # The wheel carries the licence files pyproject names (SciPy's notice for the ported
    # minimiser among them): an image built without them would ship the code without its licence.
    assert set(project["license-files"]) <= set(copied.split()), copied
    assert "pip install --no-build-isolation -c constraints.txt ." in dockerfile
