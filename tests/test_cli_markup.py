"""Set titles and area names print as they are typed, never read as Rich markup.

A title or a name is data: "Tor [/] quay" once crashed every command that printed it (Rich's
MarkupError, so one stored set broke `hotspots boundaries list` for the whole data folder) and
"Paignton [b]" printed as a bold "Paignton". Each command that prints a title or a name is run
here on a store whose titles and names hold markup-like text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boundaries.clusters import build_clusters
from boundaries.store import BoundaryStore
from cli.main import app
from tests.service_town import EAST, WEST
from tests.test_analysis_study import town  # noqa: F401  (the generated town fixture)

runner = CliRunner()
SHARED_WARDS = Path("../shared/data/boundaries/wards_2019/E06000027.geojson")
CLUSTERS = "markup-clusters"
# Rich reads each of these as markup: a closing tag with nothing open, a style, a styled
# piece, an escaped bracket.
TITLE = r"Towns [/] [b] [red]x[/red] \[ set"
WEST_NAME = "Tor [/] quay"
EAST_NAME = "Paignton [b] [red]x[/red] \\[ bay"


@pytest.fixture
def markup_store(town, data_dir: Path) -> Path:  # noqa: F811
    """The generated town's wards as two clusters whose names and title look like markup."""
    _, wards = town
    clusters = build_clusters(wards, {WEST: WEST_NAME, EAST: EAST_NAME}, CLUSTERS).clusters
    BoundaryStore(data_dir).save(replace(clusters, title=TITLE))
    return data_dir


def _run(*args: str, data_dir: Path):
    done = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert done.exit_code == 0, (done.stdout, done.stderr, done.exception)
    return done


def _codes_of(data_dir: Path) -> dict[str, str]:
    listed = _run("boundaries", "areas", CLUSTERS, "--format", "json", data_dir=data_dir)
    return {area["name"]: area["code"] for area in json.loads(listed.stdout)}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["boundaries", "list"], [TITLE]),
        (["boundaries", "areas", CLUSTERS], [WEST_NAME, EAST_NAME]),
        (["boundaries", "counts", CLUSTERS], [WEST_NAME, EAST_NAME]),
        (["allocate", "--boundaries", CLUSTERS, "--units", "9"], [WEST_NAME, EAST_NAME]),
    ],
)
def test_titles_and_names_print_as_typed(
    markup_store: Path, args: list[str], expected: list[str]
) -> None:
    shown = _run(*args, data_dir=markup_store).stdout
    for text in expected:
        assert text in shown, f"{text!r} not printed as typed:\n{shown}"


def test_analyse_top_prints_cluster_names_as_typed(markup_store: Path, tmp_path: Path) -> None:
    shown = _run(
        "analyse",
        "--boundaries",
        CLUSTERS,
        "--permutations",
        "99",
        # The busy street is a hot spot only under the analytic p rule; the table needs one.
        "--p-for-classes",
        "analytic",
        "--res",
        "10",
        "--top",
        "20",
        "-o",
        str(tmp_path / "top.csv"),
        data_dir=markup_store,
    ).stdout
    assert "Top " in shown
    assert WEST_NAME in shown or EAST_NAME in shown, shown


def test_an_area_chosen_by_a_markup_like_name_is_found(markup_store: Path, tmp_path: Path) -> None:
    codes = _codes_of(markup_store)
    assert set(codes) == {WEST_NAME, EAST_NAME}  # stored as typed, too
    out = tmp_path / "west.json"
    args = ["analyse", "--boundaries", CLUSTERS, "--area", WEST_NAME, "--permutations", "99"]
    _run(*args, "-o", str(out), data_dir=markup_store)
    assert json.loads(out.read_text())["provenance"]["shown_areas"] == [codes[WEST_NAME]]


@pytest.mark.skipif(not SHARED_WARDS.exists(), reason=f"{SHARED_WARDS} is absent (shared data)")
def test_load_with_a_markup_like_title_then_list(data_dir: Path) -> None:
    """The tester's case: the set is stored and reported, and listing still works after."""
    loaded = _run(
        "boundaries",
        "load",
        str(SHARED_WARDS),
        "--name",
        "r",
        "--scheme",
        "ward",
        "--title",
        "Towns [/]",
        data_dir=data_dir,
    )
    assert "(Towns [/])" in loaded.stdout
    listed = _run("boundaries", "list", data_dir=data_dir)
    assert "Towns [/]" in listed.stdout


def test_an_error_quoting_markup_like_input_prints_it(markup_store: Path) -> None:
    done = runner.invoke(
        app, ["boundaries", "areas", "no-[b]such[/]", "--data-dir", str(markup_store)]
    )
    assert done.exit_code == 2
    assert "no-[b]such[/]" in done.stderr


def test_an_untitled_set_is_listed_under_its_code(markup_store: Path) -> None:
    """--title's help says an untitled set is shown by its code: the list shows it so."""
    sets = json.loads(_run("boundaries", "list", "--format", "json", data_dir=markup_store).stdout)
    untitled = [s["name"] for s in sets if not s.get("title")]
    assert untitled, sets
    table = _run("boundaries", "list", data_dir=markup_store).stdout
    for name in untitled:  # in the name column, again in the title column, and in sources
        in_sources = sum(name in s["source"] for s in sets)
        assert table.count(name) == 2 + in_sources, table
