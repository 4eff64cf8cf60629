"""A damaged cache database repairs itself (pipelines/cache/folder.py): it is moved aside once,
kept for inspection (a bounded number of copies), and replaced by an empty cache, whichever and
however many processes find it; nothing that reads the cache fails meanwhile, /health included.

Real files and real damage (the kinds a crash, a full disk or a bad copy leave), real processes
at once, a real server on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from pipelines.cache import DiskCache
from pipelines.cache.folder import DAMAGED_DIR, DB_FILE, KEEP_DAMAGED, live_generation
from tests.live_server import live_server
from tests.service_town import WARDS, build_town

ROOT = Path(__file__).parents[1]
ENTRIES = 3000
BIG = b"v" * 100_000  # kept as a value file beside the database, not inside it
PAGE = 4096  # diskcache's SQLite page size


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _zeroed_header(db: Path) -> None:
    with db.open("r+b") as file:
        file.write(bytes(100))


def _truncated_to_half(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def _truncated_inside_the_header(db: Path) -> None:
    os.truncate(db, 50)


def _half_written_page(db: Path) -> None:
    """A page in the middle of the table half new, half old, as a crash mid-write leaves it."""
    with db.open("r+b") as file:
        file.seek(db.stat().st_size // 2 // PAGE * PAGE)
        file.write(os.urandom(PAGE // 2))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage bytes": _garbage,
    "zeroed header": _zeroed_header,
    "truncated to half": _truncated_to_half,
    "truncated inside the header": _truncated_inside_the_header,
    "half-written page": _half_written_page,
}


def _filled(folder: Path) -> Path:
    """A closed cache in ``folder`` holding ENTRIES small entries and one value file; its
    database file."""
    cache = DiskCache(folder)
    for n in range(ENTRIES):
        assert cache.set("k", (n,), bytes(200))
    assert cache.set("big", (), BIG)
    cache.close()  # the last connection: the WAL is checkpointed into cache.db
    return live_generation(folder) / DB_FILE


def _value_files(folder: Path) -> list[Path]:
    return list(folder.rglob("*.val"))


def _damage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "was damaged" in r.getMessage()]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_database_is_kept_aside_and_replaced_by_an_empty_one(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "cache"
    db = _filled(folder)
    old_values = _value_files(db.parent)
    assert old_values
    DAMAGE[kind](db)
    damaged_file = db.stat().st_ino

    cache = DiskCache(folder)
    with caplog.at_level(logging.WARNING, logger="hotspots.cache"):
        # Entries on sound pages may still be read before a read meets the damage; none is
        # ever wrong, and none fails.
        answers = {cache.get("k", (n,)) for n in range(ENTRIES)} | {cache.get("big", ())}
        assert answers <= {bytes(200), BIG, None} and None in answers
        assert cache.count("k") == 0  # the damaged entries are gone with their database
        assert cache.set("after", (), b"kept")
        assert cache.get("after", ()) == b"kept" and len(cache) == 1
    [copy] = (folder / DAMAGED_DIR).iterdir()
    assert (copy / DB_FILE).stat().st_ino == damaged_file  # moved as it was, for inspection
    assert "damaged" in (copy / "why.txt").read_text()
    assert not any(path.exists() for path in old_values)  # its values do not hold their bytes
    kept = f"{DAMAGED_DIR}/{copy.name}/{DB_FILE}"  # within the cache folder: no server path
    assert cache.state() == ("rebuilt", f"the previous database was damaged; kept as {kept}")
    [warning] = _damage_warnings(caplog)
    assert str(db) in warning and str(copy) in warning
    # A later process opens the rebuilt cache as it is.
    assert DiskCache(folder).get("after", ()) == b"kept"


METHODS: dict[str, tuple[Callable[[DiskCache], object], object]] = {
    "len": (len, 0),
    "volume": (lambda cache: cache.volume(), None),
    "count": (lambda cache: cache.count("k"), 0),
    "clear": (lambda cache: cache.clear(), None),
    "get": (lambda cache: cache.get("k", (1,)), None),
    "contains": (lambda cache: cache.contains("k", (1,)), False),
    "set": (lambda cache: cache.set("k", (1,), b"new"), True),
    "delete": (lambda cache: cache.delete("k", (1,)), None),
    "usable": (lambda cache: cache.usable(), True),
}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_answers_on_a_damaged_database_and_repairs_it(
    method: str, tmp_path: Path
) -> None:
    folder = tmp_path / "cache"
    _garbage(_filled(folder))
    call, expected = METHODS[method]
    cache = DiskCache(folder)
    answer = call(cache)
    if expected is not None:
        assert answer == expected
    assert cache.state()[0] == "rebuilt"
    assert len(cache) == (1 if method == "set" else 0)


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from pipelines.cache import DiskCache
    cache = DiskCache(sys.argv[1])
    assert cache.count("k") == 0, "the damaged entries were read"
    assert cache.set("from-other", (), b"other")
    """
)


@pytest.mark.parametrize("kind", ["zeroed header", "truncated to half"])
def test_a_process_holding_the_old_database_moves_to_the_rebuilt_one(
    kind: str, tmp_path: Path
) -> None:
    """A server worker with the database open, damaged under it and rebuilt by a command in
    another process: its next call uses the new database, nothing it asks fails. With the
    header zeroed the worker's own connection still reads its cached pages without an error,
    so only seeing the database moved aside tells it (else it would go on writing to a file
    nobody reads)."""
    folder = tmp_path / "cache"
    db = _filled(folder)
    held = DiskCache(folder)
    assert held.get("k", (1,)) == bytes(200)
    DAMAGE[kind](db)
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(folder)], check=True, cwd=ROOT)
    assert held.get("from-other", ()) == b"other"
    assert held.set("from-held", (), b"held")
    assert DiskCache(folder).get("from-held", ()) == b"held"
    assert len(list((folder / DAMAGED_DIR).iterdir())) == 1


# Each worker waits for its start line on stdin, so all of them meet the damage together.
_WORKER = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from pipelines.cache import DiskCache
    cache = DiskCache(sys.argv[1])
    me = int(sys.argv[2])
    if sys.argv[3] == "open first":
        assert cache.usable()
    print("ready", flush=True)
    sys.stdin.readline()
    cache.count("k")
    assert cache.set("worker", (me,), bytes([me]) * 50_000), "not kept"
    assert cache.get("worker", (me,)) == bytes([me]) * 50_000, "not read back"
    print(cache.state()[0], flush=True)
    """
)


def _workers_meet_the_damage(folder: Path, damage: Callable[[], None], when: str) -> list[str]:
    """Four processes using ``folder`` when ``damage`` happens; the log lines of them all."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(folder), str(n), when],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for n in range(4)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    damage()
    for worker in workers:
        worker.stdin.write("go\n")  # type: ignore[union-attr]
        worker.stdin.flush()  # type: ignore[union-attr]
    logs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.strip() == "rebuilt"
        logs.append(err)
    return logs


@pytest.mark.parametrize("when", ["open first", "open after"])
def test_processes_finding_the_same_damage_at_once_rebuild_once(tmp_path: Path, when: str) -> None:
    """Workers that had the database open when it was damaged, or open it just after: one of
    them moves it aside and starts the new cache; the others use that one (none starts its
    own, none deletes another's), and one warning is logged among them."""
    folder = tmp_path / "cache"
    db = _filled(folder)
    logs = _workers_meet_the_damage(folder, lambda: _truncated_to_half(db), when)
    assert sum(log.count("was damaged") for log in logs) == 1, logs
    assert len(list((folder / DAMAGED_DIR).iterdir())) == 1
    assert live_generation(folder) == folder / "db-2"
    cache = DiskCache(folder)
    for n in range(4):
        assert cache.get("worker", (n,)) == bytes([n]) * 50_000  # every worker's entry kept
    assert len(cache) == 4


def test_damaged_copies_are_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    for _ in range(KEEP_DAMAGED + 2):
        db = _filled(folder)
        _garbage(db)
        DiskCache(folder).usable()
    copies = sorted(path.name for path in (folder / DAMAGED_DIR).iterdir())
    assert len(copies) == KEEP_DAMAGED
    first_kept = KEEP_DAMAGED + 2 - KEEP_DAMAGED + 1  # db-3, db-4, db-5 of db-1 .. db-5
    assert [name.rsplit("-", 1)[1] for name in copies] == [
        str(n) for n in range(first_kept, KEEP_DAMAGED + 3)
    ]
    assert live_generation(folder) == folder / f"db-{KEEP_DAMAGED + 3}"


def test_the_store_is_untouched_by_a_repair(tmp_path: Path) -> None:
    """The cache folder holds only the cache: a repair moves nothing of the store's."""
    data_dir, _ = build_town(tmp_path)
    before = {
        p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "cache" not in p.parts
    }
    folder = data_dir / "cache"
    _garbage(_filled(folder))
    assert DiskCache(folder).usable()
    after = {
        p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "cache" not in p.parts
    }
    assert after == before


@pytest.mark.usefixtures("no_precompute")
def test_health_reports_a_rebuilt_cache_and_answers_go_on(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    params = {"boundaries": WARDS, "permutations": 99}
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        assert api.get("/v1/hotspots", params=params, timeout=120).status_code == 200
        health = api.get("/health").json()["cache"]
        assert health["state"] == "ok" and health["problem"] is None and health["entries"] > 0
        # Damaged under the running server, and found so by a command in another process.
        _garbage(live_generation(data_dir / "cache") / DB_FILE)
        subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, str(data_dir / "cache")], check=True, cwd=ROOT
        )
        answer = api.get("/health")
        assert answer.status_code == 200
        health = answer.json()["cache"]
        assert health["state"] == "rebuilt"
        [copy] = (data_dir / "cache" / DAMAGED_DIR).iterdir()
        assert health["problem"].endswith(f"kept as {DAMAGED_DIR}/{copy.name}/{DB_FILE}")
        assert str(tmp_path) not in answer.text  # /health never shows the server's paths
        assert health["entries"] == 1  # the other process's entry: the server uses the new one
        another = {**params, "permutations": 199}  # not answered before: computed, kept
        assert api.get("/v1/hotspots", params=another, timeout=120).status_code == 200
        assert api.get("/health").json()["cache"]["entries"] > 1


@pytest.mark.usefixtures("no_precompute")
def test_health_of_a_server_started_on_a_damaged_cache(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    _zeroed_header(_filled(data_dir / "cache"))
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        answer = api.get("/health")
        assert answer.status_code == 200
        assert answer.json()["cache"]["state"] == "rebuilt"
        params = {"boundaries": WARDS, "permutations": 99}
        assert api.get("/v1/hotspots", params=params, timeout=120).status_code == 200


@pytest.mark.usefixtures("no_precompute")
def test_health_says_why_a_cache_is_unusable(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("a file where the cache folder should be")
    settings = Settings(data_dir=data_dir, cache_dir=not_a_folder)
    with live_server(settings) as base, httpx.Client(base_url=base) as api:
        answer = api.get("/health")
        assert answer.status_code == 200
        cache = answer.json()["cache"]
        assert cache["state"] == "unusable"
        assert cache["problem"] == (
            "the cache folder cannot be opened or written: a file stands where the folder should be"
        )
        assert str(tmp_path) not in answer.text
        assert (cache["entries"], cache["bytes"]) == (0, 0)
        params = {"boundaries": WARDS, "permutations": 99}
        assert api.get("/v1/hotspots", params=params, timeout=120).status_code == 200


def test_a_command_on_a_damaged_cache_says_so_in_one_line(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    _garbage(_filled(data_dir / "cache"))
    hotspots = str(Path(sys.executable).parent / "hotspots")
    env = {**os.environ, "HOTSPOTS_CACHE_DIR": str(data_dir / "cache")}
    out = tmp_path / "study.json"
    args = [hotspots, "analyse", "--boundaries", WARDS, "--data-dir", str(data_dir)]
    args += ["-o", str(out), "--overwrite"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "cache" in line]
    assert "was damaged" in line and str(data_dir / "cache" / DAMAGED_DIR) in line
    again = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    assert again.returncode == 0 and "damaged" not in again.stderr
    assert "Answered from the study cache" in again.stdout


@pytest.mark.usefixtures("no_precompute")
def test_precompute_on_a_damaged_cache_rebuilds_it_and_keeps_its_studies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app as cli
    from pipelines.cache.studies import STUDY_KIND

    data_dir, _ = build_town(tmp_path)
    folder = tmp_path / "cache"
    _garbage(_filled(folder))
    monkeypatch.setenv("HOTSPOTS_CACHE_DIR", str(folder))
    result = CliRunner().invoke(cli, ["precompute", "--workers", "1", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 studies computed and cached" in result.output
    assert DiskCache(folder).count(STUDY_KIND) == 2  # in the new database, kept
    assert len(list((folder / DAMAGED_DIR).iterdir())) == 1


def test_a_damaged_cache_in_a_read_only_folder_works_uncached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing can be moved aside or started: every call answers as an empty cache, /health's
    state says why, and the folder is left as it was."""
    from tests.test_store_faults import read_only_view

    folder = tmp_path / "cache"
    db = _filled(folder)
    _garbage(db)
    before = db.read_bytes()
    with read_only_view(folder, tmp_path / "ro") as read_only:
        cache = DiskCache(read_only)
        with caplog.at_level(logging.WARNING, logger="hotspots.cache"):
            for method, (call, expected) in METHODS.items():
                answer = call(cache)
                if expected is not None:
                    assert answer == {"set": False, "usable": False}.get(method, expected)
            assert cache.volume() == 0
        assert cache.state() == (
            "unusable",
            "the cache folder cannot be opened or written: it is on a read-only file system",
        )
    assert db.read_bytes() == before and not (folder / DAMAGED_DIR).exists()
    assert len(caplog.records) == 1  # once, not per call


def test_a_damaged_cache_on_a_full_disk_is_rebuilt(tmp_path: Path) -> None:
    """Putting the damaged database aside deletes its values, which frees the room the new
    one needs."""
    from tests.test_store_faults import small_disk

    with small_disk(tmp_path / "disk", "4m") as disk:
        folder = disk / "cache"
        cache = DiskCache(folder)
        n = 0
        while cache.set("fill", (n,), os.urandom(200_000)):
            n += 1
        assert n > 3  # filled until the disk refused
        cache.close()
        _zeroed_header(live_generation(folder) / DB_FILE)
        again = DiskCache(folder)
        assert again.get("fill", (0,)) is None
        assert again.set("after", (), b"kept") and again.get("after", ()) == b"kept"
        assert again.state()[0] == "rebuilt"


@pytest.mark.usefixtures("no_precompute")
def test_a_write_ahead_log_cut_short_under_a_running_server_does_not_hold_requests(
    tmp_path: Path,
) -> None:
    """The fresh-clone review's hang: with the server's connections open, the cache's
    write-ahead log cut to nothing made every later cache call fail to begin a write, and
    diskcache's retry=True began it again for ever (requests never answered, /health said ok).
    Now the fault is damage: the cache is rebuilt and the requests answer."""
    data_dir, _ = build_town(tmp_path)
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        for permutations in (99, 199, 299):  # entries written, the log left holding them
            params = {"boundaries": WARDS, "permutations": permutations}
            assert api.get("/v1/hotspots", params=params, timeout=120).status_code == 200
        wal = live_generation(data_dir / "cache") / f"{DB_FILE}-wal"
        assert wal.stat().st_size > 0
        os.truncate(wal, 0)
        # The timeout only tells a hang from an answer: the call used to wait for ever.
        for permutations in (99, 399):  # one cached before, one new
            params = {"boundaries": WARDS, "permutations": permutations}
            assert api.get("/v1/hotspots", params=params, timeout=60).status_code == 200
        health = api.get("/health", timeout=60).json()["cache"]
        assert health["state"] == "rebuilt"
        assert health["entries"] >= 1  # the new answer was kept in the rebuilt cache


def test_an_earlier_layouts_cache_is_left_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache kept at the folder's top by an earlier version (or by another program using
    diskcache in a shared folder) is not read and not deleted: a symlink among its value
    folders, or another program's entries, must not lead to deleting anything."""
    import diskcache

    folder = tmp_path / "cache"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.val").write_text("keep")
    with diskcache.Cache(str(folder)) as old:
        old.set("other-app", BIG)
    (folder / "ab").symlink_to(outside)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with caplog.at_level(logging.WARNING, logger="hotspots.cache"):
        cache = DiskCache(folder)
        assert cache.set("kind", ("x",), 1) and cache.get("kind", ("x",)) == 1
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p: b for p, b in after.items() if p in before} == before
    [warning] = [r.getMessage() for r in caplog.records if "earlier version" in r.getMessage()]
    assert str(folder / DB_FILE) in warning and "delete it" in warning


# Locks the database whose path it is sent, and holds it until its standard input closes.
_LOCK_WHEN_ASKED = (
    "import sqlite3, sys; path = sys.stdin.readline().strip(); "
    "c = sqlite3.connect(path, isolation_level=None); "
    "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); sys.stdin.read()"
)


def _start_lock_holder() -> subprocess.Popen:
    """Another process, ready to lock a cache database when :func:`_lock` names it."""
    return subprocess.Popen(
        [sys.executable, "-c", _LOCK_WHEN_ASKED],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _lock(holder: subprocess.Popen, database: Path) -> None:
    """Have ``holder`` take ``database``'s exclusive lock, and wait until it holds it."""
    holder.stdin.write(f"{database}\n")  # type: ignore[union-attr]
    holder.stdin.flush()  # type: ignore[union-attr]
    assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]


def _assert_busy_and_skipping(cache: DiskCache, key: tuple) -> None:
    """The cache says it is busy with a lock, and skips its calls instead of waiting again."""
    state, why = cache.state()
    assert state == "busy" and "lock" in why
    assert cache.get("kind", key) is None and len(cache) == 0  # skipped, not waited


def test_a_locked_cache_is_left_alone_for_a_while_and_health_says_busy(tmp_path: Path) -> None:
    """Another process holding the cache's lock makes one call wait (at most
    LOCK_WAIT_SECONDS) and then the process works uncached for BUSY_SECONDS, saying so,
    instead of making every one of a request's cache calls wait again."""
    folder = tmp_path / "cache"
    cache = DiskCache(folder)
    assert cache.set("kind", ("x",), 1)
    holder = _start_lock_holder()
    try:
        _lock(holder, live_generation(folder) / DB_FILE)
        assert cache.set("kind", ("y",), 2) is False  # waited in vain: nothing kept
        _assert_busy_and_skipping(cache, ("x",))
    finally:
        holder.communicate("")
    assert cache.state()[0] == "busy"  # for a while, even once the lock is free


class _LockedBeforeItsSecondWrite:
    """A value to keep whose second serialisation (diskcache pickles a value before it begins
    the write) first has ``holder`` lock the live database: the write retried on a rebuilt
    cache then waits for another process's lock."""

    def __init__(self, folder: Path, holder: subprocess.Popen) -> None:
        self.folder, self.holder, self.serialised = folder, holder, 0

    def __reduce__(self) -> tuple:
        self.serialised += 1
        if self.serialised == 2:
            live = live_generation(self.folder)
            assert live is not None
            _lock(self.holder, live / DB_FILE)
        return (str, ("a cached answer",))


def test_a_lock_met_by_the_write_retried_after_a_repair_leaves_the_cache_busy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The retry on the rebuilt database waits LOCK_WAIT_SECONDS in vain, as a first attempt
    can: the process then works uncached for BUSY_SECONDS and /health says busy, instead of
    making each of a request's later calls wait again."""
    folder = tmp_path / "cache"
    cache = DiskCache(folder)
    for n in range(300):
        assert cache.set("k", (n,), bytes(200))
    _garbage(live_generation(folder) / DB_FILE)  # under the open connection
    holder = _start_lock_holder()
    value = _LockedBeforeItsSecondWrite(folder, holder)
    try:
        with caplog.at_level(logging.WARNING, logger="hotspots.cache"):
            assert cache.set("kind", ("y",), value) is False  # the retry waited in vain
        assert value.serialised == 2  # damage met, the cache rebuilt, the write tried again
        assert len(_damage_warnings(caplog)) == 1
        _assert_busy_and_skipping(cache, ("y",))
    finally:
        holder.communicate("")
    assert cache.state()[0] == "busy"  # for a while, even once the lock is free


def test_a_process_opening_a_locked_cache_works_uncached_for_a_while_then_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server worker starting while another process holds the cache's write lock: its first
    call waits LOCK_WAIT_SECONDS, not diskcache's 60 s for the write its open makes, and the
    cache is busy for BUSY_SECONDS, not unusable for the life of the process."""
    from pipelines.cache import disk

    monkeypatch.setattr(disk, "BUSY_SECONDS", 1.0)  # the test waits it out
    folder = tmp_path / "cache"
    first = DiskCache(folder)
    assert first.set("kind", ("x",), 1)
    first.close()
    holder = _start_lock_holder()
    try:
        _lock(holder, live_generation(folder) / DB_FILE)
        starting = DiskCache(folder)
        assert starting.get("kind", ("x",)) is None  # waited in vain: a miss
        state, why = starting.state()
        assert state == "busy" and "lock" in why
    finally:
        holder.communicate("")
    time.sleep(1.5)  # past BUSY_SECONDS, the lock free
    assert starting.get("kind", ("x",)) == 1
    assert starting.state() == ("ok", None)
