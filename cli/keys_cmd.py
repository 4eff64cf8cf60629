"""``hotspots keys add``: make an API key for the web service's writes (and keyed reads).

The key is printed once and never stored: the keys file holds its SHA-256 only, one key a line
(``<sha256> <created> <label>``), so a copied keys file opens nothing.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DataDirOption, console, fail
from pipelines.store import resolve_data_dir
from pipelines.store.atomic import atomic_write

KEYS_FILE_ENV = "HOTSPOTS_API_KEYS_FILE"
keys_app = typer.Typer(help="API keys for the web service.", no_args_is_help=True)


def keys_file(data_dir: Path | None) -> Path:
    """$HOTSPOTS_API_KEYS_FILE, else <data dir>/api_keys.txt (where `hotspots serve` looks)."""
    explicit = os.environ.get(KEYS_FILE_ENV)
    return Path(explicit) if explicit else resolve_data_dir(data_dir) / "api_keys.txt"


@keys_app.command("add")
def add_key(
    label: Annotated[
        str, typer.Option("--label", help="Who or what the key is for (kept beside its hash).")
    ] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Generate a random key, print it once, store only its SHA-256."""
    from geo_service.dependencies import hash_key  # the service's own hash: they cannot differ

    if any(char in label for char in "\r\n"):
        fail("--label must be one line")
    path = keys_file(data_dir)
    key = secrets.token_urlsafe(32)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    line = f"{hash_key(key)} {created} {label.strip()}".rstrip()
    with atomic_write(path, mode=0o600) as tmp:  # key hashes: readable by their owner only
        tmp.write_text(existing + line + "\n", encoding="utf-8")
        tmp.chmod(0o600)  # hashes only, but nobody else needs to read them
    console.print(f"Added a key{f' for {label.strip()}' if label.strip() else ''} to {path}.")
    console.print("Copy it now: it is not stored and cannot be shown again.", highlight=False)
    typer.echo(key)
