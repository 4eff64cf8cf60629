"""Docs as tests: every curl line of docs/api.md and README.md, run as written (by bash and the
real curl) against a real server on 127.0.0.1 whose store was loaded by the quickstart command
exactly as `make quickstart` runs it, answers 2xx (or the status its line documents with a
trailing comment `# expect 4xx`), in the order the documents give them."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from geo_service.dependencies import hash_key
from geo_service.precompute import PRECOMPUTE_ENV
from geo_service.settings import Settings
from tests.live_server import live_server
from tests.store_copy import copy_store

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("docs/api.md", "README.md")
KEY = "docs-test-key"
STATUS = "HTTP_STATUS:"
EXPECT = re.compile(r"#\s*expect\s+(\d{3})")


def shell_blocks(text: str) -> list[str]:
    """The bodies of the ```bash / ```sh / ```shell fences of a Markdown text."""
    return re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, flags=re.DOTALL)


def curl_commands(block: str) -> list[str]:
    """Each curl command of a shell block, continuation lines and multi-line quotes joined."""
    commands, current = [], ""
    for line in block.splitlines():
        if not current and not line.lstrip().startswith("curl "):
            continue
        current += line + "\n"
        if line.rstrip().endswith("\\"):
            continue
        try:
            shlex.split(current, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        commands.append(current.rstrip())
        current = ""
    assert not current, f"unterminated command: {current}"
    return commands


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for block in shell_blocks((ROOT / document).read_text(encoding="utf-8")):
            found.extend((document, command) for command in curl_commands(block))
    return found


def quickstart_arguments(shared_data: Path) -> list[str]:
    """`make quickstart`'s own arguments to `hotspots` (read from the Makefile), with the
    shared data where $(SHARED) points."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    target = makefile[makefile.index("\nquickstart:") :]
    recipe = re.search(r"\$\(BIN\)/hotspots (quickstart[^;\n]*)", target)  # the local-data run
    assert recipe, "the Makefile has no quickstart recipe running hotspots"
    command = recipe.group(1).replace("$(SHARED)", str(shared_data)).replace("$(ARGS)", "")
    return shlex.split(command)


def test_the_documents_have_curl_lines_to_run() -> None:
    commands = documented_commands()
    assert len(commands) >= 20
    assert {document for document, _ in commands} == set(DOCUMENTS)
    assert not [c for _, c in commands if "torbay-wards-2019" in c]  # a set quickstart never made


@pytest.fixture(scope="module")
def quickstart_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as `make quickstart` leaves it (nothing else run on it), with the docs' key."""
    if not shutil.which("curl"):
        pytest.skip("needs the curl command")
    data_dir = tmp_path_factory.mktemp("docs") / "data"
    arguments = [*quickstart_arguments(shared_data), "--data-dir", str(data_dir), "--no-serve"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    (data_dir / "api_keys.txt").write_text(f"{hash_key(KEY)} docs-test\n", encoding="utf-8")
    return data_dir


@contextmanager
def quickstart_server(store: Path, copy: Path) -> Iterator[str]:
    """A real server on a fresh copy of the quickstart's store: each document's lines run on the
    store as the quickstart left it, so a document cannot lean on what another one made."""
    copy_store(store, copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PRECOMPUTE_ENV, "0")  # quickstart precomputed already
        with live_server(Settings(data_dir=copy)) as base:
            yield base


@pytest.mark.shared_data
@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_documented_curl_line_answers_as_documented(
    quickstart_store: Path, document: str, tmp_path: Path
) -> None:
    # curl as a shell function: the command runs as written, and reports the status it got.
    wrapper = f'curl() {{ command curl --write-out "\\n{STATUS}%{{http_code}}\\n" "$@"; }}\n'
    failures = []
    commands = [command for named, command in documented_commands() if named == document]
    with quickstart_server(quickstart_store, tmp_path / "store") as base:
        for command in commands:
            expected = EXPECT.search(command)
            run = subprocess.run(
                ["bash", "-c", wrapper + command],
                env={"API": base, "KEY": KEY, "PATH": "/usr/bin:/bin"},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=600,
            )
            statuses = re.findall(rf"{STATUS}(\d{{3}})", run.stdout)
            status = int(statuses[-1]) if statuses else None
            ok = status == int(expected.group(1)) if expected else status and 200 <= status < 300
            if run.returncode != 0 or not ok:
                body = run.stdout.replace("\n", " ")[:300]
                failures.append(f"{document}: {command.splitlines()[0]} -> {status} {body}")
    assert not failures, "\n".join(failures)


README_ADDRESS = re.compile(r"(?:\$API)?(/v1/[A-Za-z0-9/_.{}\-]+)(\?[^`\"\s)]*)?")


def readme_addresses() -> list[tuple[str, dict[str, str]]]:
    """(path, its query parameters) of every API address README names, in prose or curl."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for path, query in README_ADDRESS.findall(text):
        pairs = [p.split("=", 1) for p in query.lstrip("?").split("&") if "=" in p]
        found.append((path.rstrip("."), {name: value for name, value in pairs}))
    return found


def test_every_readme_address_names_a_route_and_parameters_it_takes() -> None:
    """README once offered `/v1/compare?...&format=html`, a 422: every address it names, in
    prose too (with placeholders, so not run by curl), is a route of the API, each parameter
    one the route takes, and each `format` one of the route's formats."""
    from geo_service.app import create_app

    schema = create_app(Settings(data_dir=Path("/nonexistent"))).openapi()
    routes = {
        re.sub(r"\{[^}]+\}", "{}", path): operations for path, operations in schema["paths"].items()
    }
    addresses = readme_addresses()
    assert any(path == "/v1/maps/compare" for path, _ in addresses)
    wrong = []
    for path, parameters in addresses:
        # A set's and an area's name in the path stand for the route's path parameters.
        pattern = re.sub(r"/(boundaries|areas)/[^/]+", r"/\1/{}", path)
        operations = routes.get(pattern)
        if operations is None:
            wrong.append(f"{path}: no such route")
            continue
        taken = {
            p["name"]: p["schema"]
            for operation in operations.values()
            for p in operation.get("parameters", [])
        }
        for name, value in parameters.items():
            if name not in taken:
                wrong.append(f"{path}: no parameter {name}")
            elif name == "format" and value not in taken[name].get("enum", [value]):
                wrong.append(f"{path}: format={value} is not one of {taken[name]['enum']}")
    assert not wrong, "\n".join(wrong)
