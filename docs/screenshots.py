"""Take the README's screenshots (docs/img/*.png) with headless Chromium, so they can be
refreshed whenever the pages change: `make screenshots` (needs ../shared/data and Chromium).

It builds a store as `make quickstart` does (Torbay's wards and residents, 24 months), adds a
cluster set of Torbay's three towns for the compare page, serves it on a free loopback port with
no basemap (the build machine has no internet; `--tiles URL` shows a basemap where there is
one), and saves: the start page with "torm" typed, the harm hot spot map of Torbay, Tormohun's
profile and the ward-versus-town comparison.
"""

from __future__ import annotations

import argparse
import csv
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from cli.main import app as cli
from geo_service.app import create_app
from geo_service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "img"
WARDS = "e06000027-wards-2019"
TOWNS = "torbay-towns-2019"
CHROMIUM = "/usr/bin/chromium"
# Torbay's 2019 wards by town: the grouping a Torbay partnership plans by.
TOWN_OF_WARD = {
    "Brixham": ["E05012255", "E05012260", "E05012266"],
    "Paignton": ["E05012256", "E05012258", "E05012261", "E05012262", "E05012263", "E05012264"],
    "Torquay": [
        "E05012254", "E05012257", "E05012259", "E05012265", "E05012267", "E05012268", "E05012269",
    ],
}  # fmt: skip


def build_store(data_dir: Path) -> None:
    """The quickstart's store, plus the town clusters."""
    args = [
        "quickstart", "--force", "devon-and-cornwall", "--lad", "E06000027", "--months", "24",
        "--archive", str(SHARED / "police_uk/archive/devon-and-cornwall"),
        "--wards", str(SHARED / "boundaries/wards_2019/E06000027.geojson"),
        "--population", str(SHARED / "population/lsoa_2011_census_population.csv"),
        "--lookup", str(SHARED / "lookups/ons_LSOA11_to_WD19_LAD19_EW.csv"),
        "--weights", "home-office-2018", "--no-serve", "--data-dir", str(data_dir),
    ]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(cli, args)
    if result.exit_code:
        raise SystemExit(result.output)
    mapping = data_dir / "towns.csv"
    with mapping.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ward_code", "cluster"])
        for town, codes in TOWN_OF_WARD.items():
            writer.writerows([code, town] for code in codes)
    result = runner.invoke(
        cli,
        ["boundaries", "cluster", str(mapping), "--wards", WARDS, "--name", TOWNS,
         "--replace", "--data-dir", str(data_dir)],
    )  # fmt: skip
    if result.exit_code:
        raise SystemExit(result.output)


def serve(settings: Settings) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return base, server, thread


def shoot(base: str) -> list[Path]:
    pages = {
        "start-page.png": ("/", (1100, 760)),
        "hotspot-map.png": (f"/v1/maps/hotspots?boundaries={WARDS}&weights=home-office-2018",
                            (1280, 860)),
        "profile.png": (f"/v1/boundaries/{WARDS}/areas/Tormohun/profile.html", (900, 1300)),
        "compare.png": (f"/v1/maps/compare?boundaries={WARDS},{TOWNS}", (1400, 900)),
    }  # fmt: skip
    for _, (path, _) in pages.items():  # compute each page once before the browser waits
        httpx.get(base + path, timeout=600).raise_for_status()
    saved = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, (path, (width, height)) in pages.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(base + path, wait_until="networkidle")
            if name == "start-page.png":
                page.fill("#area-search", "tor")
            page.wait_for_timeout(800)  # Leaflet's fit and fade
            page.screenshot(path=OUT / name, full_page=name == "profile.png")
            saved.append(OUT / name)
            page.close()
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="an existing store (default: build one)")
    parser.add_argument("--tiles", default="none", help="basemap: none, osm or a URL template")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        if args.data_dir is None:
            build_store(data_dir)
        base, server, thread = serve(Settings(data_dir=data_dir, tiles=args.tiles))
        try:
            for path in shoot(base):
                print(f"saved {path.relative_to(ROOT)}")
        finally:
            server.should_exit = True
            thread.join(timeout=10)


if __name__ == "__main__":
    main()
