"""A hotspot study end to end on a generated town: two wards, one busy street, quiet elsewhere.

The right answer is known by construction: the cluster's cell must come out hot, every cell of
the region must be written (zeros included), and counts must add up to the crimes in the region.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app
from pipelines.analysis.ranking import RankingError, rank_cells
from pipelines.analysis.study import StudyError, StudyRequest, run_study
from pipelines.analysis.window import WindowError, choose_window
from pipelines.ingest.archive import ingest_archive
from pipelines.months import months_between
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.service_town import EAST, WEST, ward_polygons, write_archive

runner = CliRunner()


def _wards(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {
            "WD19CD": [WEST, EAST],
            "WD19NM": ["West Ward", "East Ward"],
            "geometry": ward_polygons(),
        },
        crs="EPSG:4326",
    )
    path = tmp_path / "wards.geojson"
    frame.to_file(path, engine="pyogrio")
    return path


@pytest.fixture
def town(tmp_path: Path, data_dir: Path) -> tuple[CrimeStore, object]:
    """12 months: 20 burglaries a month on the busy street, 40 crimes a month spread evenly."""
    archive = write_archive(tmp_path / "archive")
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    wards = load_boundary_file(_wards(tmp_path), "town-wards-2019", "ward", vintage="2019")
    BoundaryStore(data_dir).save(wards)
    return store, wards


def test_the_busy_street_is_a_high_count_place_not_a_hot_spot(town) -> None:
    """240 burglaries on one street of a quiet town: a concentration, not a cluster. Shuffle the
    map and the busy cell turns up elsewhere just as busy, so no clustering rule that keeps its
    false discoveries at alpha can call it a hot spot; the high-count test finds it."""
    store, wards = town
    result = run_study(
        store, wards, StudyRequest("town-wards-2019", resolution=10, permutations=199)
    )
    cells = result.cells

    assert len(cells) == result.provenance["region"]["cells"]
    # Land-only region: every cell at least half inside the wards; a crime in a rim cell below
    # that is left out of the cell statistics and counted, never lost without a word.
    assert (cells["land_share"] >= 0.5).all() and (cells["land_share"] <= 1).all()
    assert (cells["area_km2"] <= h3.average_hexagon_area(10, "km^2") * 1.01).all()
    crimes = result.provenance["crimes"]
    assert cells["count"].sum() == crimes["in_region"]
    assert crimes["in_region"] + crimes["in_cells_below_land_share"] == 12 * 60
    assert result.provenance["region"]["rule"].startswith("a cell enters the region when")
    assert result.provenance["crimes"]["outside_region"] == 12
    assert result.provenance["crimes"]["no_location"] == 12
    busiest = cells.sort_values("count", ascending=False).iloc[0]
    assert busiest["count"] >= 240
    assert busiest["high_count"] and busiest["high_count_p_adjusted"] <= 0.05
    assert busiest["streets"][0] == "High Street"
    assert busiest["area_code"] == "E05000001"
    # The only high-count place: the evenly spread shoplifting makes none.
    assert cells["high_count"].sum() == 1
    assert result.provenance["high_count_places"]["name"] == "high-count places"
    assert result.provenance["high_count_places"]["flagged"] == 1
    # Gi* scores a neighbourhood: the top z is the busy cell or one of its six neighbours, but
    # under the default rule one busy cell is not a cluster.
    assert result.provenance["statistics"]["p_for_classes"] == "permutation"
    top = cells.sort_values("z", ascending=False).iloc[0]
    assert h3.grid_distance(top["h3"], busiest["h3"]) <= 1
    assert not cells["hotspot"].any()
    assert (cells["p"] <= 1).all() and (cells["p_adjusted"] >= cells["p"] - 1e-12).all()


def test_hot_spot_means_adjusted_p_at_most_alpha(town) -> None:
    """One meaning of "hot spot": classed hot and adjusted p <= alpha; the 90 % class is not."""
    store, wards = town
    request = StudyRequest(
        "town-wards-2019", resolution=10, p_for_classes="analytic", permutations=0
    )
    cells = run_study(store, wards, request).cells
    hot = cells["hotspot"]
    assert hot.any()
    assert (cells.loc[hot, "p_adjusted"] <= 0.05).all() and (cells.loc[hot, "class"] >= 2).all()
    assert not cells.loc[cells["class"] == 1, "hotspot"].any()
    strict = run_study(store, wards, replace(request, alpha=0.01)).cells
    assert (strict.loc[strict["hotspot"], "p_adjusted"] <= 0.01).all()
    assert strict["hotspot"].sum() == (strict["class"] == 3).sum()


def test_provenance_states_every_choice(town) -> None:
    store, wards = town
    request = StudyRequest(
        "town-wards-2019",
        resolution=9,
        permutations=99,
        seed=11,
        weights="cchi",
        categories=("Burglary", "shoplifting"),
    )
    provenance = run_study(store, wards, request).provenance

    for key in (
        "resolution",
        "neighbours",
        "window",
        "categories",
        "weights",
        "permutations",
        "seed",
        "alpha",
        "multiple_testing",
        "region",
        "crimes",
        "attribution",
    ):
        assert key in provenance, key
    assert provenance["resolution"] == 9 and provenance["seed"] == 11
    assert provenance["categories"] == ["burglary", "shoplifting"]
    assert provenance["weights"]["name"] == "cchi" and provenance["weights"]["version"]
    assert provenance["window"]["first"] == "2019-01" and provenance["window"]["last"] == "2019-12"
    assert provenance["region"]["areas"] == ["E05000001", "E05000002"]


def test_too_coarse_a_grid_is_refined_and_says_so(town) -> None:
    store, wards = town
    result = run_study(store, wards, StudyRequest("town-wards-2019", resolution=7, permutations=99))
    assert result.provenance["resolution"] > 7
    assert result.adjustments and "resolution changed from 7" in result.adjustments[0]
    assert result.provenance["data_guard"]["adjustments"] == result.adjustments
    with pytest.raises(StudyError, match="only 1 cell"):
        run_study(
            store,
            wards,
            StudyRequest("town-wards-2019", resolution=7, permutations=99, adjust=False),
        )


def test_harm_weights_change_the_values_not_the_counts(town) -> None:
    store, wards = town
    counted = run_study(store, wards, StudyRequest("town-wards-2019", permutations=99)).cells
    harmed = run_study(
        store, wards, StudyRequest("town-wards-2019", permutations=99, weights="cchi")
    ).cells
    assert (counted["count"] == harmed["count"]).all()
    assert (counted["value"] == counted["count"]).all()
    assert not np.allclose(harmed["value"], counted["value"])


def test_one_area_is_a_region_of_its_own(town) -> None:
    store, wards = town
    result = run_study(
        store, wards, StudyRequest("town-wards-2019", areas=("E05000002",), permutations=99)
    )
    assert set(result.cells["area_code"]) == {"E05000002"}
    assert result.provenance["region"]["areas"] == ["E05000002"]


def test_window_defaults_to_the_latest_twelve_months(town) -> None:
    store, _ = town
    window = choose_window(store)
    assert (window.first, window.last, window.missing) == ("2019-01", "2019-12", [])
    window = choose_window(store, first="2018-11", last="2019-02")
    assert window.missing == ["2018-11", "2018-12"]
    with pytest.raises(WindowError, match=r"no crimes stored for 2021-01\.\.2021-03"):
        choose_window(store, first="2021-01", last="2021-03")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": 12}, "resolution must be one of 7, 8, 9, 10"),
        ({"method": "kde"}, "method must be one of"),
        ({"categories": ("Alien abduction",)}, "unknown crime category"),
        ({"weights": "no-such-table"}, "no-such-table"),
        ({"first": "2030-01", "last": "2030-06"}, "no crimes stored"),
    ],
)
def test_bad_requests_say_what_to_fix(town, changes: dict, message: str) -> None:
    store, wards = town
    with pytest.raises(ValueError, match=message):
        run_study(store, wards, StudyRequest("town-wards-2019", permutations=99, **changes))


def test_too_few_crimes_is_refused(town) -> None:
    store, wards = town
    request = StudyRequest(
        "town-wards-2019",
        first="2019-01",
        last="2019-01",
        permutations=99,
        categories=("vehicle-crime",),
    )
    with pytest.raises(StudyError):
        run_study(store, wards, request)


# -- ranking -------------------------------------------------------------------------------


def _cells() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "h3": ["a", "b", "c", "d"],
            "lat": [50.0, 50.0001, 50.01, 50.02],
            "lng": [-3.5, -3.5, -3.5, -3.5],
            "area_km2": [1.0, 1.0, 1.0, 1.0],
            "value": [50.0, 30.0, 15.0, 5.0],
            "z": [4.0, 3.0, 2.5, -1.0],
            "class": [3, 3, 2, 0],
            "hotspot": [True, True, True, False],
            "area_code": ["A", "A", "B", "B"],
        }
    )


def test_ranking_reports_cumulative_shares() -> None:
    ranked = rank_cells(_cells(), by="value", top=3)
    assert ranked["h3"].tolist() == ["a", "b", "c"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["cumulative_area_share"].tolist() == [0.25, 0.5, 0.75]
    assert ranked["cumulative_value_share"].tolist() == [0.5, 0.8, 0.95]


def test_ranking_per_area_and_patrol_separation() -> None:
    per_area = rank_cells(_cells(), top=1, per_area=True)
    assert per_area[["area_code", "h3", "rank"]].values.tolist() == [["A", "a", 1], ["B", "c", 1]]
    apart = rank_cells(_cells(), top=2, min_separation_m=100)
    assert apart["h3"].tolist() == ["a", "c"]  # b is 11 m from a
    with pytest.raises(RankingError):
        rank_cells(_cells(), by="popularity")


# -- command line --------------------------------------------------------------------------


def test_analyse_writes_every_cell_with_provenance(town, data_dir: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "cells.csv"
    args = [
        "analyse",
        "--boundaries",
        "town-wards-2019",
        "--res",
        "9",
        "--from",
        "2019-01",
        "--to",
        "2019-12",
        "--permutations",
        "99",
        "-o",
        str(csv_path),
        "--data-dir",
        str(data_dir),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # The summary counts hot spots by their one meaning, and the busy street apart from them.
    assert "0 hot spot cells (adjusted p <= 0.05" in " ".join(result.output.split())
    assert "1 high-count places" in result.output
    cells = pd.read_csv(csv_path)
    for column in ("h3", "count", "value", "z", "p", "p_adjusted", "class"):
        assert column in cells.columns
    provenance = json.loads((tmp_path / "cells.csv.provenance.json").read_text())
    assert provenance["region"]["cells"] == len(cells)

    geojson = tmp_path / "top.geojson"
    # The busy street is a Gi* hot spot only under the opt-in analytic p rule.
    analytic = ["--p-for-classes", "analytic", "--res", "10"]
    result = runner.invoke(
        app,
        [*args[:-4], *analytic, "--top", "3", "-o", str(geojson), "--data-dir", str(data_dir)],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(geojson.read_text())
    assert body["provenance"]["resolution"] == 10
    assert 1 <= len(body["features"]) <= 3
    assert body["features"][0]["properties"]["rank"] == 1
    assert body["features"][0]["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--weights", "nonsense"], "nonsense"),
        (["--res", "12"], "resolution must be one of"),
        (["--from", "2025-01", "--to", "2025-02"], "no crimes stored"),
        (["--area", "E05999999"], "E05999999"),
        (["--from", "2019-13"], "YYYY-MM"),
        (["--format", "xlsx"], "--format must be one of"),
        (["--weights", "{tmp}/bad-table.yaml"], "not-a-category"),
        (["--category", "vehicle-crime"], "no crimes in the study region"),
        (["--alpha", "1.5"], "a significance level from 0.000001 to 0.5 is required, got 1.5"),
        (["--alpha", "0"], "a significance level from 0.000001 to 0.5 is required, got 0.0"),
        (["--p-for-classes", "magic"], "unknown p rule"),
        (["--permutations", "0"], "needs permutations >= 1"),
    ],
)
def test_analyse_bad_input_is_one_clear_line(
    town, data_dir: Path, tmp_path: Path, extra, message
) -> None:
    (tmp_path / "bad-table.yaml").write_text(
        "name: bad\nversion: '1'\nweights:\n  not-a-category: 3\n", encoding="utf-8"
    )
    args = [
        "analyse",
        "--boundaries",
        "town-wards-2019",
        "--permutations",
        "99",
        "-o",
        str(tmp_path / "out.json"),
        "--data-dir",
        str(data_dir),
        *[value.format(tmp=tmp_path) for value in extra],
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_analyse_unknown_boundary_set(town, data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "analyse",
            "--boundaries",
            "nowhere",
            "-o",
            str(tmp_path / "x.json"),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 2
    assert "no boundary set named 'nowhere'" in result.stderr


def test_emerging_categories_over_twelve_months(town) -> None:
    store, wards = town
    # The busy street is a Gi* hot spot only under the opt-in analytic p (what ArcGIS does).
    request = StudyRequest(
        "town-wards-2019",
        resolution=10,
        permutations=0,
        p_for_classes="analytic",
        emerging=True,
    )
    result = run_study(store, wards, request)
    categories = set(result.cells["emerging"])
    assert categories <= {
        f"{kind} {side} Spot"
        for kind in (
            "New",
            "Consecutive",
            "Intensifying",
            "Persistent",
            "Diminishing",
            "Sporadic",
            "Oscillating",
            "Historical",
        )
        for side in ("Hot", "Cold")
    } | {"No Pattern Detected"}
    busiest = result.cells.sort_values("count", ascending=False).iloc[0]
    # Twenty burglaries every month, no trend: hot in every period.
    assert busiest["emerging"] in {"Persistent Hot Spot", "Consecutive Hot Spot"}
    assert result.provenance["emerging"]["periods"] == 12


def test_emerging_needs_ten_months(town) -> None:
    store, wards = town
    request = StudyRequest(
        "town-wards-2019", first="2019-06", last="2019-12", permutations=99, emerging=True
    )
    with pytest.raises(ValueError, match="10"):
        run_study(store, wards, request)


def test_weights_giving_every_crime_zero_harm_say_so_and_what_to_use(
    town, data_dir: Path, tmp_path: Path
) -> None:
    """An all-zero table used to fail with "all values are equal, so Gi* is undefined" alone."""
    store, wards = town
    zero = tmp_path / "zero.yaml"
    zero.write_text("name: zero\nversion: '1'\ndefault: 0\nweights:\n  burglary: 0\n")
    for method in ("gistar", "lisa"):
        request = StudyRequest("town-wards-2019", weights=str(zero), method=method, permutations=9)
        with pytest.raises(StudyError) as refused:
            run_study(store, wards, request)
        message = str(refused.value)
        assert "the weights zero give every crime of 2019-01..2019-12 zero harm" in message
        assert "every cell has the same value (0)" in message and "--weights count" in message
    args = ["analyse", "--boundaries", "town-wards-2019", "--weights", str(zero)]
    result = runner.invoke(
        app, [*args, "-o", str(tmp_path / "x.json"), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "zero harm" in result.stderr and "weights=count" in result.stderr


def test_a_default_window_without_crimes_in_the_region_names_it_and_what_to_do(
    town, data_dir: Path, tmp_path: Path
) -> None:
    """The town's crimes are 2019's; another force's 2023 months make the default window (the
    store's latest 12 months across all forces) 2023, where the town has none. The refusal used
    to be "there are no crimes in the study region and window", naming neither window nor fix."""
    store, wards = town
    london = ArchiveBuilder(tmp_path / "london")
    for month in months_between("2023-01", "2023-12"):
        line = crime_line(month, crime_id=f"{month}-city", longitude="-0.09", latitude="51.515")
        london.write("city-of-london", month, [line])
    ingest_archive(store, london.root)
    with pytest.raises(StudyError) as refused:
        run_study(store, wards, StudyRequest("town-wards-2019", permutations=9))
    message = str(refused.value)
    assert "no crimes in the study region in 2023-01..2023-12 (the store holds" in message
    assert "months for city-of-london)" in message
    assert "--from/--to, from=/to=" in message and "ingest the force that covers it" in message
    # The months the town's crimes are stored for run.
    run_study(store, wards, StudyRequest("town-wards-2019", first="2019-01", last="2019-12"))
    args = ["analyse", "--boundaries", "town-wards-2019", "-o", str(tmp_path / "x.json")]
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "2023-01..2023-12" in result.stderr and "--from/--to" in result.stderr


@pytest.mark.parametrize(
    ("method", "weights", "without"),
    [
        ("gistar", "H3 k-ring, binary, cell included (Gi*)", "excluded"),
        ("lisa", "H3 k-ring, cell excluded, row-standardised (local Moran's I)", "included"),
    ],
)
def test_the_neighbours_said_are_the_statistics_own(
    town, method: str, weights: str, without: str
) -> None:
    """A LISA study's provenance said its neighbours were "cell included (Gi*)" while its
    statistics said "k-ring without self, row-standardised": each now says its own weights."""
    store, wards = town
    request = StudyRequest("town-wards-2019", method=method, permutations=9)
    provenance = run_study(store, wards, request).provenance
    assert provenance["neighbours"] == {"type": weights, "k": 1}
    assert without not in provenance["neighbours"]["type"]
    if method == "lisa":
        assert provenance["statistics"]["weights"] == "k-ring without self, row-standardised"
