"""``hotspots boundaries`` as a user meets it: happy paths and one-line errors for bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.fake_ons_arcgis import FakeOnsArcgis
from tests.test_boundaries_core import STEP, X0, Y0, grid, write

runner = CliRunner()


@pytest.fixture
def seeded(tmp_path: Path, archive: ArchiveBuilder, data_dir: Path) -> Path:
    """A store with 4 crimes (3 in the grid wards, 1 outside) and the grid wards loaded."""
    points = [(X0 + 0.005, Y0 + 0.005), (X0 + 0.015, Y0 + 0.005), (X0 + 0.015, Y0 + 0.006)]
    lines = [
        crime_line("2019-01", crime_id=f"c{i}", longitude=f"{x:.6f}", latitude=f"{y:.6f}")
        for i, (x, y) in enumerate(points)
    ]
    lines.append(crime_line("2019-01", crime_id="far", longitude="-4.0", latitude="50.0"))
    archive.write("devon-and-cornwall", "2019-01", lines)
    ingested = runner.invoke(
        app, ["ingest", "archive", str(archive.root), "--data-dir", str(data_dir)]
    )
    assert ingested.exit_code == 0, ingested.output
    wards = write(grid(), tmp_path / "wards.geojson")
    loaded = invoke(
        "boundaries", "load", str(wards), "--name", "grid", "--scheme", "ward", data_dir=data_dir
    )
    assert loaded.exit_code == 0, loaded.stderr
    assert "6 ward area(s), vintage 2019" in loaded.stdout
    return data_dir


def invoke(*args: str, data_dir: Path):
    return runner.invoke(app, [*args, "--data-dir", str(data_dir)])


def test_load_list_counts(seeded: Path) -> None:
    listed = invoke("boundaries", "list", "--format", "json", data_dir=seeded)
    assert [
        (s["name"], s["scheme"], s["vintage"], s["areas"]) for s in json.loads(listed.stdout)
    ] == [("grid", "ward", "2019", 6)]
    table = invoke("boundaries", "list", data_dir=seeded)
    assert "grid" in table.stdout and table.exit_code == 0

    as_json = invoke("boundaries", "counts", "grid", "--format", "json", data_dir=seeded)
    body = json.loads(as_json.stdout)
    crimes = {a["code"]: a["crimes"] for a in body["areas"]}
    assert crimes == {
        "E05000000": 1,
        "E05000001": 0,
        "E05000010": 2,
        "E05000011": 0,
        "E05000020": 0,
        "E05000021": 0,
    }
    assert (body["outside"], body["no_location"], body["total"]) == (1, 0, 4)

    as_csv = invoke(
        "boundaries", "counts", "grid", "--format", "csv", "--from", "2019-01", data_dir=seeded
    )
    lines = as_csv.stdout.splitlines()
    assert lines[0] == "code,name,crimes"
    assert "E05000010,Ward 10,2" in lines
    assert ",(outside every area),1" in lines

    readable = invoke("boundaries", "counts", "grid", data_dir=seeded)
    assert "1 outside every area" in readable.stdout


def test_cluster_custom_cover_population(seeded: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "clusters.yaml"
    mapping.write_text("West: [E05000000, E05000001]\nEast: [E05000010, E05000011]\n")
    made = invoke(
        "boundaries",
        "cluster",
        str(mapping),
        "--wards",
        "grid",
        "--name",
        "grid-c",
        data_dir=seeded,
    )
    assert made.exit_code == 0, made.stderr
    assert "warning: 2 ward(s) of grid are in no cluster: E05000020, E05000021" in made.stderr
    counts = json.loads(
        invoke("boundaries", "counts", "grid-c", "--format", "json", data_dir=seeded).stdout
    )
    assert {a["code"]: a["crimes"] for a in counts["areas"]} == {"east": 2, "west": 1}

    area = tmp_path / "patch.geojson"
    area.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {"name": "Patch"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [X0 + 0.01, Y0],
                            [X0 + 0.02, Y0],
                            [X0 + 0.02, Y0 + 0.0055],
                            [X0 + 0.01, Y0 + 0.0055],
                            [X0 + 0.01, Y0],
                        ]
                    ],
                },
            }
        )
    )
    custom = invoke("boundaries", "custom", str(area), "--name", "patch", data_dir=seeded)
    assert custom.exit_code == 0, custom.stderr
    counts = json.loads(
        invoke("boundaries", "counts", "patch", "--format", "json", data_dir=seeded).stdout
    )
    assert counts["areas"][0]["crimes"] == 1 and counts["outside"] == 3

    cover = invoke(
        "boundaries", "cover", "grid", "--resolution", "9", "--area", "E05000000", data_dir=seeded
    )
    rows = cover.stdout.splitlines()
    assert rows[0] == "cell,cell_hex,area_code,land_share,land_km2" and len(rows) > 5
    assert all(r.split(",")[2] == "E05000000" for r in rows[1:])

    population = tmp_path / "pop.csv"
    population.write_text(
        "code,population\n" + "".join(f"E050000{c}{r},1000\n" for c in range(3) for r in range(2))
    )
    added = invoke(
        "boundaries", "population", "grid", "--population", str(population), data_dir=seeded
    )
    assert added.exit_code == 0 and "direct method: 6,000 residents" in added.stdout
    counts = json.loads(
        invoke("boundaries", "counts", "grid", "--format", "json", data_dir=seeded).stdout
    )
    rates = {a["code"]: a["crimes_per_1000"] for a in counts["areas"]}
    assert rates["E05000010"] == 2.0 and rates["E05000000"] == 1.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "{tmp}/missing.geojson", "--name", "x", "--scheme", "ward"], "does not exist"),
        (["load", "{tmp}/notes.txt", "--name", "x", "--scheme", "ward"], "cannot read"),
        (["load", "{tmp}/points.geojson", "--name", "x", "--scheme", "ward"], "must be polygons"),
        (["load", "{tmp}/wards.geojson", "--name", "x", "--scheme", "county"], "unknown scheme"),
        (["load", "{tmp}/wards.geojson", "--name", "Bad Name", "--scheme", "ward"], "set name"),
        (["load", "{tmp}/wards.geojson", "--name", "grid", "--scheme", "ward"], "already exists"),
        (["load", "{tmp}/wards.geojson", "--name", "x", "--scheme", "lsoa"], "lsoa codes"),
        (
            ["load", "{tmp}/wards.geojson", "--name", "x", "--scheme", "ward", "--code-field", "X"],
            "--code-field 'X' is not a field",
        ),
        (["load", "{tmp}/plain.geojson", "--name", "x", "--scheme", "custom"], "pass --vintage"),
        (["list", "--format", "xml"], "--format must be one of"),
        (["counts", "nope"], "no boundary set named 'nope'"),
        (["counts", "grid", "--from", "2019-13"], "--from must be a month"),
        (["counts", "grid", "--force", "kent"], "no stored crimes"),
        (["counts", "grid", "--format", "xlsx"], "--format must be one of"),
        (["cluster", "{tmp}/missing.csv", "--wards", "grid", "--name", "c"], "does not exist"),
        (["cluster", "{tmp}/unknown.csv", "--wards", "grid", "--name", "c"], "E05999999"),
        (["cluster", "{tmp}/twice.csv", "--wards", "grid", "--name", "c"], "more than one cluster"),
        (["cluster", "{tmp}/notes.txt", "--wards", "grid", "--name", "c"], "needs a ward code"),
        (["cluster", "{tmp}/unknown.csv", "--wards", "nope", "--name", "c"], "no boundary set"),
        (
            ["cluster", "{tmp}/own.csv", "--wards", "grid", "--name", "grid", "--replace"],
            "cannot replace the ward set it is built from",
        ),
        (["custom", "{tmp}/missing.geojson", "--name", "c"], "does not exist"),
        (["custom", "{tmp}/notes.txt", "--name", "c"], "not JSON"),
        (["custom", "{tmp}/line.geojson", "--name", "c"], "custom areas must be Polygon"),
        (["cover", "grid", "--resolution", "5"], "one of 7, 8, 9, 10"),
        (
            ["cover", "grid", "--area", "E0"],
            "--area: no area with code or name 'E0' in boundary set",
        ),
        (["population", "grid", "--population", "{tmp}/missing.csv"], "does not exist"),
        (["population", "grid", "--population", "{tmp}/notes.txt"], "neither the census"),
        (["population", "grid", "--population", "{tmp}/lsoa_pop.csv"], "give an LSOA set"),
        (["routes", "grid", "--lookup", "{tmp}/missing.csv"], "does not exist"),
        (["routes", "grid", "--lookup", "{tmp}/notes.txt"], "needs an LSOA code column"),
        (["fetch", "--lad", "Torbay"], "is not a local authority code"),
        (["fetch", "--lad", "E06000027", "--vintage", "1999"], "no ONS ward service known"),
        (["fetch", "--lad", "E06000027", "--scheme", "lsoa"], "only --scheme ward"),
        (
            ["fetch", "--lad", "E06000027", "--base-url", "http://127.0.0.1:{port}/rest"],
            "cannot reach the ONS service",
        ),
    ],
)
def test_bad_input_gets_one_line_error(
    args: list[str], message: str, seeded: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("these are not boundaries\n")
    points = grid()
    points["geometry"] = points.geometry.representative_point()
    write(points, tmp_path / "points.geojson")
    plain = grid()[["geometry"]]
    write(plain.assign(code=[f"A{i}" for i in range(6)]), tmp_path / "plain.geojson")
    (tmp_path / "unknown.csv").write_text("ward_code,cluster\nE05999999,West\n")
    (tmp_path / "own.csv").write_text("ward_code,cluster\nE05000000,West\n")
    (tmp_path / "twice.csv").write_text("ward_code,cluster\nE05000000,West\nE05000000,East\n")
    (tmp_path / "line.geojson").write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": [[X0, Y0], [X0 + STEP, Y0]]},
            }
        )
    )
    (tmp_path / "lsoa_pop.csv").write_text("code,population\nE01000001,1500\n")
    filled = [a.format(tmp=tmp_path, port=_closed_port()) for a in args]

    result = invoke("boundaries", *filled, data_dir=seeded)

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
    assert "Traceback" not in result.output


@pytest.fixture
def fake_ons(shared_data: Path):
    services = {
        "Wards_December_2019_Boundaries_UK_BGC": shared_data / "boundaries/wards_2019",
        "Wards_December_2022_Boundaries_UK_BGC": shared_data / "boundaries/wards_2022",
    }
    with FakeOnsArcgis(services, max_record_count=5) as fake:
        yield fake


def test_fetch_pages_through_the_ons_service(fake_ons: FakeOnsArcgis, data_dir: Path) -> None:
    result = invoke(
        "boundaries",
        "fetch",
        "--scheme",
        "ward",
        "--lad",
        "E09000003",
        "--vintage",
        "2019",
        "--base-url",
        fake_ons.base_url,
        data_dir=data_dir,
    )
    assert result.exit_code == 0, result.stderr
    assert "Stored e09000003-wards-2019: 21 ward area(s), vintage 2019" in result.stdout
    queries = [r for r in fake_ons.requests if "/query?" in r]
    assert len(queries) == 5  # 21 wards, 5 a page
    assert "where=LAD20CD%3D%27E09000003%27" in queries[0] and "outSR=4326" in queries[0]
    assert "resultOffset=20" in queries[-1]
    listed = json.loads(invoke("boundaries", "list", "--format", "json", data_dir=data_dir).stdout)
    assert listed[0]["code_field"] == "WD19CD" and listed[0]["areas"] == 21

    london = invoke(
        "boundaries",
        "fetch",
        "--lad",
        "E09000018",
        "--vintage",
        "2022",
        "--name",
        "hounslow-2022",
        "--base-url",
        fake_ons.base_url,
        data_dir=data_dir,
    )
    assert london.exit_code == 0 and "22 ward area(s), vintage 2022" in london.stdout


@pytest.mark.parametrize(
    ("lad", "vintage", "fail_status", "message"),
    [
        ("E06000001", "2019", None, "has no wards for local authority E06000001"),
        ("E09000003", "2025", None, "Invalid URL"),
        ("E09000003", "2019", 500, "answered HTTP 500"),
        ("E09000003", "2019", 404, "does not exist (HTTP 404)"),
    ],
)
def test_fetch_errors_are_one_line(
    fake_ons: FakeOnsArcgis, data_dir: Path, lad, vintage, fail_status, message
) -> None:
    if fail_status:
        fake_ons.fail_next(fail_status)
    result = invoke(
        "boundaries",
        "fetch",
        "--lad",
        lad,
        "--vintage",
        vintage,
        "--base-url",
        fake_ons.base_url,
        data_dir=data_dir,
    )
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_routes_compares_point_and_lsoa(seeded: Path, tmp_path: Path) -> None:
    lookup = tmp_path / "lookup.csv"
    lookup.write_text("LSOA11CD,WD19CD,WD19NM\nE01015120,E05000000,Ward 00\n")
    result = invoke(
        "boundaries", "routes", "grid", "--lookup", str(lookup), "--format", "json", data_dir=seeded
    )
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    # All four crimes carry LSOA E01015120 -> ward 00; by point 1 is there, 2 in ward 10.
    assert (body["both"], body["agree"], body["lsoa_only"]) == (3, 1, 1)
    by_area = {a["code"]: (a["by_point"], a["by_lsoa"]) for a in body["areas"]}
    assert by_area["E05000000"] == (1, 4) and by_area["E05000010"] == (2, 0)


@pytest.mark.parametrize(
    "args",
    [
        ["coverage"],
        ["export", "--format", "csv", "-o", "{tmp}/out.csv"],
        ["boundaries", "counts", "grid"],
        ["boundaries", "routes", "grid", "--lookup", "{tmp}/lookup.csv"],
        ["analyse", "--boundaries", "grid", "-o", "{tmp}/hot.csv"],
        ["allocate", "--boundaries", "grid", "--units", "5"],
        ["backtest", "--boundaries", "grid", "--to", "2019-01"],
        [
            "displacement",
            "--target",
            "grid:E05000000",
            "--control",
            "grid:E05000021",
            "--buffer-m",
            "10",
            "--before",
            "2019-01:2019-01",
            "--after",
            "2019-02:2019-02",
        ],
    ],
)
def test_a_force_that_is_not_a_slug_is_one_line_error(
    args: list[str], seeded: Path, tmp_path: Path
) -> None:
    # A force names a folder of the store: "../x" or "Devon and Cornwall" must never reach a path.
    (tmp_path / "lookup.csv").write_text("LSOA11CD,WD19CD\nE01000001,E05000000\n")
    filled = [a.format(tmp=tmp_path) for a in args]
    result = runner.invoke(app, [*filled, "--force", "../Devon", "--data-dir", str(seeded)])
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "police.uk force slug" in result.output or "holds no force" in result.output
