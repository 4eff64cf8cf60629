"""``hotspots quickstart`` and ``hotspots demo`` end to end, against local fakes of police.uk/ONS.

The fakes serve real data from ../shared/data: Devon and Cornwall's 2020 archive months converted
to API objects (only around Torbay, which is all a Torbay area ever gets back) and the ONS 2019
ward layer. Precompute and its start-up hook are tested on the store the quickstart built.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import pyarrow.compute as pc
import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from boundaries.counts import count_crimes
from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.app import create_app
from geo_service.precompute import PRECOMPUTE_ENV, default_request, precompute
from geo_service.results import StudyCache
from geo_service.settings import Settings
from geo_service.synthetic import (
    BANNER_CLASS,
    add_banner,
    boundary_set_is_synthetic,
    provenance_is_synthetic,
)
from pipelines.analysis.study import StudyRequest, run_study
from pipelines.demo_city import (
    CLUSTERS_SET,
    DEMO_FORCE,
    WARDS_SET,
    build_demo,
    generate_city,
    write_archive,
)
from pipelines.store import CrimeStore
from tests.fake_ons_arcgis import FakeOnsArcgis
from tests.fake_police_api import FakePoliceApi, crimes_from_archive
from tests.live_server import live_server

runner = CliRunner()
FORCE = "devon-and-cornwall"
TORBAY = "E06000027"
SET = "e06000027-wards-2019"
TORMOHUN = "E05012268"  # Torquay's town centre: the busiest Torbay ward
MONTHS_2020 = [f"2020-{m:02d}" for m in range(1, 13)]
TORBAY_BOX = (-3.65, 50.35, -3.45, 50.52)  # lng/lat box around Torbay's 2019 wards
QUICK_RETRIES = {"HOTSPOTS_API_ATTEMPTS": "1", "HOTSPOTS_API_BACKOFF": "0.01"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _never_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that forgets --police-api must fail locally, never reach data.police.uk."""
    monkeypatch.setenv("HOTSPOTS_POLICE_API", f"http://127.0.0.1:{_closed_port()}/api")


@pytest.fixture(scope="module")
def fakes(shared_data: Path) -> Iterator[tuple[FakePoliceApi, FakeOnsArcgis]]:
    street, no_location = crimes_from_archive(
        shared_data / "police_uk/archive" / FORCE, FORCE, MONTHS_2020, bbox=TORBAY_BOX
    )
    services = {"Wards_December_2019_Boundaries_UK_BGC": shared_data / "boundaries/wards_2019"}
    with (
        FakePoliceApi(crimes=street, no_location=no_location, forces=[FORCE]) as police,
        FakeOnsArcgis(services) as ons,
    ):
        yield police, ons


def _quickstart(fakes: tuple[FakePoliceApi, FakeOnsArcgis], data_dir: Path, *args: str):
    police, ons = fakes
    return runner.invoke(
        cli,
        [
            "quickstart", "--force", FORCE, "--lad", TORBAY,
            "--police-api", police.base_url, "--ons-api", ons.base_url,
            "--data-dir", str(data_dir), *args,
        ],
        env=QUICK_RETRIES,
    )  # fmt: skip


@pytest.fixture(scope="module")
def quickstarted(fakes, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real quickstart run (12 months, count weights, no server), shared by the tests."""
    data_dir = tmp_path_factory.mktemp("quickstart") / "store"
    result = _quickstart(fakes, data_dir, "--months", "12", "--weights", "count", "--no-serve")
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return data_dir, result.output


def _one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.output
    return result.stderr


# -- quickstart ------------------------------------------------------------------------------------


def test_quickstart_stores_the_wards_and_twelve_months_of_the_lads_crimes(quickstarted, fakes):
    data_dir, output = quickstarted
    wards = BoundaryStore(data_dir).read(SET)
    assert len(wards.areas) == 16 and TORMOHUN in wards.codes
    assert wards.scheme == "ward" and wards.vintage == "2019"
    assert fakes[1].base_url in wards.source and "LAD20CD='E06000027'" in wards.source

    store = CrimeStore(data_dir)
    assert store.partitions(FORCE) == [(FORCE, month) for month in MONTHS_2020]
    crimes = store.read(FORCE, "2020-01", "2020-12")
    located = crimes.filter(pc.is_valid(crimes["latitude"]))
    lng = located["longitude"].to_numpy().astype(float)
    lat = located["latitude"].to_numpy().astype(float)
    torbay = shapely.union_all(wards.areas.geometry.values)
    # The API was asked about Torbay (the wards dissolved) and only Torbay's crimes were kept.
    assert located.num_rows > 10_000
    assert shapely.intersects_xy(torbay.buffer(1e-5), lng, lat).all()
    entry = store.coverage_of(FORCE, "2020-06").provenance[0]
    assert entry["kind"] == "api" and entry["base_url"] == fakes[0].base_url

    assert "16 wards saved as boundary set e06000027-wards-2019" in output
    # The whole set's study answers every ward (judged against its town), list and profile.
    assert re.search(r"1 of 1 studies ready in [\d.]+ s\n", output), output
    # Every ward has its row (none refused: each is judged against the whole set), and
    # Tormohun, Torquay's centre, has hot spot cells among them.
    rows = dict(re.findall(r"│ (E\d{8}) │[^│]+│[^│]+│ +(\S+) │", output))
    assert len(rows) == 16 and "refused" not in rows.values(), output
    assert int(rows[TORMOHUN]) > 0, output
    assert f"/v1/hotspots?boundaries={SET}&area=" in output


class _RefusingForOneWard(StudyCache):
    """The real study cache, except that the data guard's refusal (a ValueError, as the guard
    raises it) is given for one ward's question: since a ward is answered from its set's study
    the fakes' Torbay refuses none, so the refusal is made to order."""

    def __init__(self, store: CrimeStore, boundaries: BoundaryStore, refused: str) -> None:
        super().__init__(store, boundaries)
        self.refused = refused

    def get(self, request: StudyRequest):
        if self.refused in request.areas:
            raise ValueError("too few crimes for a hot spot study")
        return super().get(request)


def test_the_summary_counts_the_crimes_of_wards_whose_study_was_not_possible(
    quickstarted, capsys: pytest.CaptureFixture[str]
):
    """A ward refused a hot spot study showed crimes "-" (Ellacombe had 843): it shows its count
    and says the study was not possible, with why in the caption."""
    from types import SimpleNamespace

    from cli.quickstart_cmd import _summary

    data_dir, _ = quickstarted
    store, boundaries = CrimeStore(data_dir), BoundaryStore(data_dir)
    cache = _RefusingForOneWard(store, boundaries, TORMOHUN)
    capsys.readouterr()
    _summary(SimpleNamespace(state=SimpleNamespace(cache=cache)), SET, ("count",))
    output = capsys.readouterr().out
    window = re.search(r"crimes and hot spots of (\d{4}-\d{2})\.\.(\d{4}-\d{2})", output)
    assert window is not None, output
    wards = boundaries.read(SET)
    counts = count_crimes(store, wards, first=window.group(1), last=window.group(2)).table
    crimes = int(counts.loc[counts["code"] == TORMOHUN, "crimes"].iloc[0])
    line = next(line for line in output.splitlines() if TORMOHUN in line)
    assert "not possible" in line and f"{crimes:,}" in line.split(TORMOHUN, 1)[1], line
    assert crimes > 100 and " - " not in line, line
    assert "not possible: too few crimes or too small an area" in " ".join(output.split())


def test_the_served_store_answers_ranked_hotspots_with_provenance_for_a_torbay_ward(
    quickstarted, monkeypatch: pytest.MonkeyPatch
):
    data_dir, _ = quickstarted
    monkeypatch.setenv(PRECOMPUTE_ENV, "0")  # this test asks one question; no warming needed
    with live_server(Settings(data_dir=data_dir)) as base:
        response = httpx.get(
            f"{base}/v1/hotspots",
            params={"boundaries": SET, "top": 10},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    cells = body["cells"]
    # Hot spots are judged against all of Torbay: the town centre (Tormohun) holds some.
    assert 1 <= len(cells) <= 10
    assert [c["rank"] for c in cells] == list(range(1, len(cells) + 1))
    z = [c["z"] for c in cells]
    assert z == sorted(z, reverse=True)
    assert all(c["hotspot"] and c["p_adjusted"] <= 0.05 for c in cells)
    assert TORMOHUN in {c["area_code"] for c in cells}
    assert all(c["streets"] for c in cells)
    provenance = body["provenance"]
    assert provenance["window"]["first"] == "2020-01" and provenance["window"]["last"] == "2020-12"
    assert provenance["window"]["forces"] == [FORCE]
    assert provenance["region"]["boundary_set"] == SET
    assert len(provenance["region"]["areas"]) == 16
    assert provenance["resolution"] == 9
    assert "Open Government Licence" in provenance["attribution"]
    assert not provenance_is_synthetic(provenance, BoundaryStore(data_dir))


def test_quickstart_from_an_archive_and_a_ward_file_keeps_only_the_lads_wards(
    shared_data: Path, tmp_path: Path
):
    # A ward file with two Torbay wards and one Barnet ward: only the LAD's wards are kept.
    torbay = gpd.read_file(shared_data / "boundaries/wards_2019/E06000027.geojson")
    barnet = gpd.read_file(shared_data / "boundaries/wards_2019/E09000003.geojson")
    mixed = gpd.pd.concat([torbay[torbay["WD19CD"].isin([TORMOHUN, "E05012264"])], barnet.head(1)])
    ward_file = tmp_path / "wards.geojson"
    mixed.to_file(ward_file, driver="GeoJSON")
    data_dir = tmp_path / "store"
    result = runner.invoke(
        cli,
        [
            "quickstart", "--force", FORCE, "--lad", TORBAY, "--months", "2",
            "--archive", str(shared_data / "police_uk/archive" / FORCE),
            "--wards", str(ward_file), "--vintage", "2022", "--weights", "count", "--no-serve",
            "--data-dir", str(data_dir),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + (result.stderr or "")
    # The file says WD19CD: its wards are 2019 wards whatever --vintage says.
    assert BoundaryStore(data_dir).read(SET).codes == ["E05012264", TORMOHUN]
    # The latest two months of the archive, the whole force (an archive is per force).
    assert CrimeStore(data_dir).partitions(FORCE) == [(FORCE, "2020-11"), (FORCE, "2020-12")]
    # The set's one study answers both wards (each judged against the set).
    assert re.search(r"1 of 1 studies ready in [\d.]+ s\n", result.output), result.output


def test_precompute_warms_exactly_what_the_routes_ask_for(quickstarted, tmp_path, monkeypatch):
    """The start-up hook warms every set; afterwards hotspot, map and profile requests compute
    nothing (their studies are cache hits), which is the point of precomputing."""
    data_dir, _ = quickstarted
    small = tmp_path / "store"
    shutil.copytree(data_dir / "crimes", small / "crimes")  # crimes the quickstart test fetched
    wards = BoundaryStore(data_dir).read(SET)
    pair = wards.areas[wards.areas["code"].isin([TORMOHUN, "E05012264"])]
    subset = load_boundary_file(
        _write(pair, tmp_path / "pair.geojson"), "torbay-pair", "ward", vintage="2019"
    )
    BoundaryStore(small).save(subset)

    monkeypatch.setenv(PRECOMPUTE_ENV, "1")
    service = create_app(Settings(data_dir=small))
    with TestClient(service) as client:
        warming = service.state.precompute
        warming.join(timeout=300)
        assert not warming.running and warming.error is None
        report = warming.report
        # 2 weights x the whole set, which answers each area's default question
        assert (report.requests, report.warmed, report.failed) == (2, 2, [])
        cache: StudyCache = service.state.cache
        computed = cache.misses
        hotspots = client.get(
            "/v1/hotspots", params={"boundaries": "torbay-pair", "area": TORMOHUN, "top": 10}
        )
        harm = client.get(
            "/v1/hotspots",
            params={"boundaries": "torbay-pair", "weights": "home-office-2018", "top": 5},
        )
        profile = client.get(f"/v1/boundaries/torbay-pair/areas/{TORMOHUN}/profile")
        page = client.get(
            "/v1/maps/hotspots", params={"boundaries": "torbay-pair", "area": TORMOHUN}
        )
    assert [r.status_code for r in (hotspots, harm, profile, page)] == [200] * 4
    assert cache.misses == computed  # every one was answered from the warmed cache


def test_precompute_on_a_store_without_crimes_says_so(quickstarted, tmp_path):
    data_dir, _ = quickstarted
    empty = tmp_path / "empty"
    BoundaryStore(empty).save(BoundaryStore(data_dir).read(SET))
    report = precompute(StudyCache(CrimeStore(empty), BoundaryStore(empty)), weights=("count",))
    assert report.requests == 0 and report.warmed == 0
    assert any("holds no crimes" in note for note in report.skipped)


# -- bad input -------------------------------------------------------------------------------------


def test_an_unknown_local_authority_is_a_one_line_error(fakes, tmp_path):
    error = _one_line_error(_quickstart(fakes, tmp_path / "s", "--lad", "E06009999"))
    assert "no wards for local authority E06009999" in error
    error = _one_line_error(_quickstart(fakes, tmp_path / "s", "--lad", "Torbay"))
    assert "not a local authority code" in error


def test_an_unreachable_police_api_is_a_one_line_error(fakes, tmp_path):
    _, ons = fakes
    result = runner.invoke(
        cli,
        [
            "quickstart", "--force", FORCE, "--lad", TORBAY, "--ons-api", ons.base_url,
            "--police-api", f"http://127.0.0.1:{_closed_port()}/api",
            "--data-dir", str(tmp_path / "s"), "--no-serve",
        ],
        env=QUICK_RETRIES,
    )  # fmt: skip
    error = _one_line_error(result)
    assert result.exit_code == 1
    assert "cannot get the list of months from police.uk" in error and "connect" in error
    assert not (tmp_path / "s" / "crimes").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--months", "0"], "--months must be between 1 and 60"),
        (["--months", "61"], "--months must be between 1 and 60"),
        (["--force", "Devon & Cornwall"], "--force must be a police.uk force slug"),
        (["--weights", "harmful"], "'harmful' is not a harm table"),
        (["--vintage", "1999"], "--vintage must be one of"),
        (["--ons-api", "ftp://example"], "--ons-api must start with http"),
    ],
)
def test_bad_options_are_refused_before_anything_is_fetched(fakes, tmp_path, args, message):
    result = _quickstart(fakes, tmp_path / "s", *args)
    assert message in _one_line_error(result)
    assert result.exit_code == 2
    assert not (tmp_path / "s").exists()


# -- demo city -------------------------------------------------------------------------------------


def test_the_demo_city_is_the_same_for_the_same_seed(tmp_path: Path):
    first, again, other = generate_city(7), generate_city(7), generate_city(8)
    assert first.crimes.equals(again.crimes)
    assert list(shapely.to_wkb(first.wards.geometry.values)) == list(
        shapely.to_wkb(again.wards.geometry.values)
    )
    files_a = write_archive(first, tmp_path / "a")
    files_b = write_archive(again, tmp_path / "b")
    assert [p.read_bytes() for p in files_a] == [p.read_bytes() for p in files_b]
    assert len(files_a) == 24 and files_a[0].name == f"2023-01-{DEMO_FORCE}-street.csv"
    assert not first.crimes.equals(other.crimes)


def test_the_demo_city_loads_through_the_normal_path_marked_synthetic(tmp_path: Path):
    crimes, boundaries = CrimeStore(tmp_path), BoundaryStore(tmp_path)
    report = build_demo(crimes, boundaries, seed=7)
    assert crimes.forces() == [DEMO_FORCE] and len(crimes.partitions(DEMO_FORCE)) == 24
    assert report.ingest.stored == len(report.city.crimes)  # every generated row is usable
    for name in (WARDS_SET, CLUSTERS_SET):
        description = boundaries.describe(name)
        assert description["extra"]["synthetic"] is True
        assert description["notes"][0].startswith("SYNTHETIC")
        assert description["source"].startswith("synthetic")
        assert boundary_set_is_synthetic(boundaries, name)
    assert len(boundaries.read(WARDS_SET).areas) == 12
    assert boundaries.read(CLUSTERS_SET).quality.gaps == 0

    # The planted night-time-economy cluster is found: its busiest cell is a significant hot spot.
    wards = boundaries.read(WARDS_SET)
    result = run_study(crimes, wards, StudyRequest(WARDS_SET))
    busiest = result.cells.sort_values("count", ascending=False).iloc[0]
    assert busiest["hotspot"] and "Nightclub" in " ".join(busiest["streets"])
    assert provenance_is_synthetic(result.provenance)
    assert not boundary_set_is_synthetic(boundaries, "no-such-set")


def test_the_demo_refuses_a_store_that_holds_real_crimes(quickstarted):
    data_dir, _ = quickstarted
    result = runner.invoke(cli, ["demo", "--data-dir", str(data_dir), "--no-serve"])
    assert "already holds real crimes (devon-and-cornwall)" in _one_line_error(result)
    assert CrimeStore(data_dir).forces() == [FORCE]


def test_the_synthetic_banner_goes_first_in_the_body_once():
    page = "<html><head><title>t</title></head><body class='x'><h1>Profile</h1></body></html>"
    marked = add_banner(page)
    assert marked.index(BANNER_CLASS) > marked.index("<body") and marked.index(
        BANNER_CLASS
    ) < marked.index("<h1>")
    assert add_banner(marked) == marked
    assert add_banner("<p>fragment</p>").index(BANNER_CLASS) < add_banner("<p>fragment</p>").index(
        "<p>"
    )


def test_default_request_is_the_key_of_a_bare_area_query():
    assert default_request(SET, TORMOHUN) == StudyRequest(SET, areas=(TORMOHUN,))
    assert default_request(SET, None, "cchi") == StudyRequest(SET, weights="cchi")


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path, driver="GeoJSON")
    return path
