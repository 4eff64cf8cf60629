"""``hotspots analyse`` computing a study in a new process, as a user runs it: the work it does
not need stays out of the process (scipy.optimize, extra OpenBLAS threads) and the study is
in the shared cache, whole, when the process ends (it is written while the answer is)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fresh_process import modules_loaded
from tests.service_town import WARDS, WEST, build_town

# Run in a new process; prints, after the command, which modules were loaded and how many
# threads each BLAS library runs.
_PROBE = """
import sys
from cli.main import app
try:
    app({args!r})
except SystemExit as done:
    assert not done.code, done.code
import json
try:
    from threadpoolctl import threadpool_info
    blas = threadpool_info()
    blas = sorted({{info["num_threads"] for info in blas if info["user_api"] == "blas"}})
except ImportError:
    blas = None
print(json.dumps({{"optimize": "scipy.optimize" in sys.modules, "blas_threads": blas}}))
"""


@pytest.fixture
def town(tmp_path: Path) -> Path:
    data_dir, _ = build_town(tmp_path)
    return data_dir


def _analyse_in_new_process(data_dir: Path, out: Path, env: dict[str, str]) -> dict:
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(data_dir), "-o", str(out)]
    code = _PROBE.format(args=[*args, "--overwrite"])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    return {**env, "HOTSPOTS_CACHE_DIR": str(data_dir / "cache"), **extra}


def test_a_computed_study_is_cached_whole_when_the_process_ends(town: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    probe = _analyse_in_new_process(town, first, _env(town))
    computed = json.loads(first.read_text())
    assert computed["provenance"]["study_cache"]["answered_from_cache"] is False
    # The high-count fit ran (over-dispersed counts) without importing the optimiser.
    assert computed["provenance"]["high_count_places"]["fitted_shape"] is not None
    assert probe["optimize"] is False
    again = tmp_path / "again.json"
    _analyse_in_new_process(town, again, _env(town))
    cached = json.loads(again.read_text())
    assert cached["provenance"]["study_cache"]["answered_from_cache"] is True
    assert cached["cells"] == computed["cells"]


def test_a_study_runs_one_blas_thread_unless_told_otherwise(town: Path, tmp_path: Path) -> None:
    pytest.importorskip("threadpoolctl")
    probe = _analyse_in_new_process(town, tmp_path / "a.json", _env(town))
    assert probe["blas_threads"] == [1]
    # The user's own setting stands (a new cache folder: the study is computed again).
    told = _env(town, OPENBLAS_NUM_THREADS="2", HOTSPOTS_CACHE_DIR=str(tmp_path / "other"))
    probe = _analyse_in_new_process(town, tmp_path / "b.json", told)
    assert probe["blas_threads"] == [2]


def test_the_months_version_is_remembered_per_manifest_version(town: Path, tmp_path: Path) -> None:
    import hashlib

    from pipelines.cache import studies
    from pipelines.ingest.archive import ingest_archive
    from pipelines.store import CrimeStore
    from tests.archive_fixtures import crime_line
    from tests.service_town import FORCE, write_archive

    def spelled_out(snapshot: object, up_to: str) -> str:  # the digest, from the files on disk
        digest = hashlib.sha256(b"up-to:" + up_to.encode())
        for force, month in snapshot.partitions(last=up_to):
            digest.update(
                f"{force}/{month}={snapshot.partition_path(force, month).name}\n".encode()
            )
        return digest.hexdigest()[:16]

    before = CrimeStore(town).snapshot()
    first = studies.months_version(before, "2019-12")
    assert first == spelled_out(before, "2019-12")
    assert studies.months_version(before, "2019-12") == first  # remembered: the same answer
    assert studies.months_version(before, "2019-05") == spelled_out(before, "2019-05")
    # A republished month is a new manifest version: a new digest, not the remembered one.
    archive = write_archive(tmp_path / "republished")
    archive.write(FORCE, "2019-06", [crime_line("2019-06", crime_id="late")])
    ingest_archive(CrimeStore(town), archive.root, first="2019-06", last="2019-06")
    after = CrimeStore(town).snapshot()
    assert after.version != before.version
    assert studies.months_version(after, "2019-12") == spelled_out(after, "2019-12") != first
    assert studies.months_version(after, "2019-05") == studies.months_version(before, "2019-05")


def test_the_cover_is_computed_once_ahead_of_the_study(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from boundaries import h3_cover
    from cli.main import app
    from pipelines.cache import disk

    computed = []
    real = h3_cover.compute_cover

    def counting(areas: object, resolution: int) -> object:
        computed.append(resolution)
        return real(areas, resolution)

    monkeypatch.setattr(h3_cover, "compute_cover", counting)
    # Nothing cached: the cover is computed (the process's cache is put back afterwards).
    monkeypatch.setattr(disk, "_active", disk.open_cache(tmp_path / "fresh-cache"))
    monkeypatch.setenv("HOTSPOTS_CACHE_DIR", str(tmp_path / "fresh-cache"))
    out = tmp_path / "answer.json"
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--res", "9"])
    assert result.exit_code == 0, result.output
    assert computed == [9]  # by the thread started ahead; the study read it from the cache
    assert json.loads(out.read_text())["provenance"]["region"]["cells"] > 0
    # An unknown area fails in the study, with its message, not in the thread.
    bad = CliRunner().invoke(
        app, [*args, "--overwrite", "--area", "E05999999", "--scope", "areas", "--res", "9"]
    )
    assert bad.exit_code != 0
    assert "E05999999" in bad.output


HOTSPOTS = Path(sys.executable).with_name("hotspots")


def test_the_console_script_ends_with_everything_written(town: Path, tmp_path: Path) -> None:
    if not HOTSPOTS.is_file():
        pytest.skip(f"the hotspots console script is not installed beside {sys.executable}")
    env = _env(town, COLUMNS="1000")  # the summary's lines unwrapped
    args = [str(HOTSPOTS), "analyse", "--boundaries", WARDS, "--data-dir", str(town)]
    first = subprocess.run([*args, "-o", str(tmp_path / "a.csv")], capture_output=True, env=env)
    assert first.returncode == 0, first.stderr
    # The summary reached the pipe, to its last line, and both files are whole.
    assert first.stdout.splitlines()[-1].startswith(b"Wrote ")
    assert first.stdout.endswith(b"a.csv.provenance.json\n")
    provenance = json.loads((tmp_path / "a.csv.provenance.json").read_text())
    rows = (tmp_path / "a.csv").read_text().splitlines()
    assert len(rows) == provenance["shown_cells"] + 1
    # The study was in the cache when the process ended.
    again = subprocess.run([*args, "-o", str(tmp_path / "b.json")], capture_output=True, env=env)
    assert again.returncode == 0, again.stderr
    assert b"Answered from the study cache" in again.stdout
    # A refused request keeps its exit status and message.
    refused = subprocess.run(
        [*args, "-o", str(tmp_path / "c.json"), "--res", "5"], capture_output=True, env=env
    )
    assert refused.returncode != 0
    assert b"resolution" in refused.stdout + refused.stderr
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("code", "status", "stderr"), [("None", 0, ""), ("3", 3, ""), ("'stopped'", 1, "stopped")]
)
def test_ending_without_teardown_keeps_the_exit_status(
    tmp_path: Path, code: str, status: int, stderr: str
) -> None:
    marker, at_exit = tmp_path / "late.txt", tmp_path / "atexit.txt"
    script = (
        "import atexit, threading, time, pathlib\n"
        "from cli.process_exit import end_now\n"
        f"atexit.register(pathlib.Path({str(at_exit)!r}).write_text, 'ran')\n"
        "def late():\n"
        "    time.sleep(0.2)\n"
        f"    pathlib.Path({str(marker)!r}).write_text('done')\n"
        "threading.Thread(target=late).start()\n"
        "print('said before the end', end='')\n"
        f"end_now({code})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == status
    assert done.stdout == "said before the end"  # buffered output is flushed
    assert done.stderr.strip() == stderr
    assert marker.read_text() == "done"  # a running (non-daemon) thread was waited for
    assert at_exit.read_text() == "ran"  # and the exit functions ran


def test_a_profiled_command_still_ends_with_its_profile(town: Path, tmp_path: Path) -> None:
    profile = tmp_path / "analyse.prof"
    args = [
        "analyse",
        "--boundaries",
        WARDS,
        "--data-dir",
        str(town),
        "-o",
        str(tmp_path / "a.json"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "cli.main", *args],
        capture_output=True,
        env=_env(town),
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0  # written as the interpreter ended, not skipped
    assert json.loads((tmp_path / "a.json").read_text())["cells"]


def test_a_gistar_study_does_not_load_the_statistics_it_does_not_run() -> None:
    unused = ("pipelines.analysis.emerging", "pipelines.analysis.lisa")
    loaded, _ = modules_loaded("import pipelines.analysis.study", unused)
    assert loaded == []


@pytest.mark.parametrize(
    ("output", "options"),
    [
        ("json", []),
        ("geojson", ["--weights", "cchi"]),
        ("json", ["--method", "lisa", "--category", "burglary"]),
        ("json", ["--emerging"]),
    ],
)
def test_a_study_of_a_stored_set_loads_neither_pandas_nor_geopandas(
    town: Path, tmp_path: Path, output: str, options: list[str]
) -> None:
    """The set's codes, names and geometries are read with pyarrow and shapely
    (boundaries/store.py), Arrow arrays are read and made through their buffers
    (pipelines/arrow_numpy.py: pyarrow's own conversions import pandas) and the answer is
    written from the study's columns: pandas, geopandas, pyogrio and pyarrow.dataset stay out of
    the process, asked by code or by name. (A CSV answer or a --top list does load pandas.)"""
    for n, area in enumerate([WEST, "west ward"]):  # the second is resolved by name
        out = tmp_path / f"answer-{n}.{output}"
        args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
        args += ["--area", area, "--scope", "areas", *options, "--overwrite"]
        code = (
            f"import os\nos.environ['HOTSPOTS_CACHE_DIR'] = {str(tmp_path / f'cache-{n}')!r}\n"
            f"from cli.main import app\ntry:\n    app({args!r})\n"
            "except SystemExit as done:\n    assert not done.code, done.code\n"
        )
        watched = ["pandas", "geopandas", "pyogrio", "pyarrow.dataset", "scipy.optimize"]
        loaded, _ = modules_loaded(code, watched)
        answer = json.loads(out.read_text())
        assert answer["provenance"]["study_cache"]["answered_from_cache"] is False
        assert answer["provenance"]["region"]["areas"] == [WEST]
        assert len(answer["features" if output == "geojson" else "cells"]) > 0
        assert loaded == []


# Modules whose code runs only if numpy's optional submodules run (cli/numpy_extras.py): the
# Fortran wrapper generator, numpy.testing's helpers (with unittest), the polynomial classes,
# character and record arrays.
_NUMPY_EXTRAS_RUN = [
    "numpy.f2py.crackfortran",
    "numpy.testing._private.utils",
    "unittest",
    "numpy.polynomial.polynomial",
    "numpy._core.defchararray",
    # scipy's array API copy of numpy's namespace, with numpy.fft, which only it imports.
    "scipy._lib.array_api_compat.numpy._aliases",
    "numpy.fft",
]


def _analyse_code(args: list[str], cache: Path, after: str = "") -> str:
    return (
        f"import os\nos.environ['HOTSPOTS_CACHE_DIR'] = {str(cache)!r}\n"
        f"from cli.main import app\ntry:\n    app({args!r})\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n" + after
    )


def test_a_new_study_runs_none_of_the_modules_it_does_not_use(town: Path, tmp_path: Path) -> None:
    """scipy reads every name numpy lists, which used to run numpy.f2py, numpy.testing and the
    rest (0.04-0.06 s of a new process), and makes its own copy of numpy's namespace, which no
    study function asks for; no progress bar is drawn into a pipe, so Rich's
    progress module stays out too. The study is computed (nothing cached) and complete."""
    out = tmp_path / "answer.json"
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
    loaded, _ = modules_loaded(
        _analyse_code(args, tmp_path / "cache"), [*_NUMPY_EXTRAS_RUN, "rich.progress"]
    )
    assert loaded == []
    answer = json.loads(out.read_text())
    assert answer["provenance"]["study_cache"]["answered_from_cache"] is False
    assert len(answer["cells"]) > 0


def test_numpy_s_optional_modules_still_work_after_a_study(town: Path, tmp_path: Path) -> None:
    """Left unrun by the study, each runs at its first use later in the same process, whole."""
    out = str(tmp_path / "a.json")
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", out]
    uses = (
        "import numpy as np\n"
        "import numpy.testing as npt\n"
        "from numpy.polynomial import Polynomial\n"
        "import numpy.f2py\n"
        "from scipy import special\n"
        "npt.assert_array_equal(np.char.upper(np.array(['ab'])), np.array(['AB']))\n"
        "assert Polynomial([1, 2])(3) == 7\n"
        "assert np.rec.fromarrays([[1, 2]], names='a').a.tolist() == [1, 2]\n"
        "assert np.strings.str_len(np.array(['abc'])).tolist() == [3]\n"
        "assert np.ctypeslib.as_array((np.ctypeslib.ctypes.c_int * 2)(4, 5)).tolist() == [4, 5]\n"
        "assert callable(numpy.f2py.run_main)\n"
        "assert float(special.ndtr(0.0)) == 0.5\n"
        "assert abs(float(special.logsumexp([0.0, 0.0])) - 0.6931471805599453) < 1e-15\n"
        "print('used')\n"
    )
    loaded, printed = modules_loaded(
        _analyse_code(args, tmp_path / "cache", uses), _NUMPY_EXTRAS_RUN
    )
    assert printed.splitlines()[-1] == "used"
    assert loaded == sorted(_NUMPY_EXTRAS_RUN)


def test_a_study_whose_cover_is_cached_loads_no_projection(town: Path, tmp_path: Path) -> None:
    """The cover of the region at the resolution (the only step that projects) is cached by the
    first study; another window on the same region needs no pyproj."""
    cache = tmp_path / "cache"
    base = ["analyse", "--boundaries", WARDS, "--data-dir", str(town)]
    first = [*base, "--from", "2019-01", "--to", "2019-12", "-o", str(tmp_path / "a.json")]
    loaded, _ = modules_loaded(_analyse_code(first, cache), ["pyproj"])
    assert loaded == ["pyproj"]  # the cover was computed: projected in EPSG:3035
    out = tmp_path / "b.json"
    other = [*base, "--from", "2019-02", "--to", "2019-12", "-o", str(out)]
    loaded, _ = modules_loaded(_analyse_code(other, cache), ["pyproj"])
    assert loaded == []
    answer = json.loads(out.read_text())
    assert answer["provenance"]["study_cache"]["answered_from_cache"] is False
    assert answer["provenance"]["window"]["first"] == "2019-02"


def test_a_computed_study_reads_the_manifest_once(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache lookup and the study read one store version: the manifest the lookup read (a
    national store's takes ~15 ms to parse), not a second copy of it."""
    from typer.testing import CliRunner

    from cli.main import app
    from pipelines.cache import disk
    from pipelines.store import crime_store, view

    reads = []

    def counting(crimes_dir: Path) -> object:
        reads.append(crimes_dir)
        return real(crimes_dir)

    real = view.load_manifest
    monkeypatch.setattr(view, "load_manifest", counting)
    monkeypatch.setattr(crime_store, "load_manifest", counting)
    monkeypatch.setattr(disk, "_active", disk.open_cache(tmp_path / "fresh-cache"))
    monkeypatch.setenv("HOTSPOTS_CACHE_DIR", str(tmp_path / "fresh-cache"))
    out = tmp_path / "answer.json"
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert reads == [town / "crimes"]
    answer = json.loads(out.read_text())
    assert answer["provenance"]["study_cache"]["answered_from_cache"] is False
    assert answer["provenance"]["data_version"]
    assert len(answer["cells"]) > 0
