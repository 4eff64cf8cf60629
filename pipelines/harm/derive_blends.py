"""Derive the blended weights of mixed police.uk categories from a recorded offence mix.

police.uk publishes one category for several Home Office offences ("Violence and sexual offences"
holds homicide, assaults, stalking, rape ...), while the cost and harm sources weigh each offence
separately. A category's weight is therefore the mean of its offences' weights, each weighted by
how often that offence is recorded:

    weight(category) = sum(count(minor) * item(minor)) / sum(count(minor))

over the Home Office minor categories that police.uk files under the category. The counts come from
the Metropolitan Police's recorded crime by ward and Home Office minor category (London Datastore,
``recorded-crime-ward.parquet``), summed over all wards and the months a table names. A table's
YAML carries the mapping (minor category -> police.uk category -> cost item), the counts and the
resulting weights; this script re-reads the parquet and checks all three agree.

    python -m pipelines.harm.derive_blends [--data ../shared/data] [--table home-office-2018]

prints each derivation and exits 1 when a shipped number differs from the re-derived one.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from pipelines.errors import InputError
from pipelines.harm.table import RETIRED, RETIRED_SUCCESSORS, TABLES_DIR, list_tables

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


class DerivationError(InputError):
    """The offence mix cannot give a weight as the table asks (a gap or clash in the mapping)."""


@dataclass(frozen=True)
class Blend:
    slug: str
    weight: float | None  # None: no offence of the category has a cost item (not costed)
    total: int  # crimes of the category in the mix
    parts: list[tuple[str, str | None, int]]  # (minor category, item, count)


def table_document(name: str) -> dict[str, Any]:
    """The raw YAML of a built-in table."""
    if name not in list_tables():
        raise DerivationError(
            f"no built-in harm table {name!r}; tables: {', '.join(list_tables())}"
        )
    return yaml.safe_load((TABLES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def derived_tables() -> list[str]:
    """Built-in tables that derive some weights from an offence mix."""
    return [name for name in list_tables() if "offence_mix" in table_document(name)]


def shipped_counts(doc: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The (major, minor) -> count mix the table ships."""
    return {(row["major"], row["minor"]): int(row["count"]) for row in doc["offence_mix"]["rows"]}


def read_mix_counts(data_dir: Path, spec: dict[str, Any]) -> dict[tuple[str, str], int]:
    """(major, minor) -> recorded crimes over the spec's months, summed over every ward."""
    path = data_dir / spec["file"]
    if not path.is_file():
        raise DerivationError(
            f"offence-mix file {path} is absent; pass --data <shared data folder>"
        )
    first, last = str(spec["first_month"]), str(spec["last_month"])
    columns = pq.read_schema(path).names
    months = sorted(c for c in columns if c.isdigit() and first <= c <= last)
    expected = _months(first, last)
    if months != expected:
        missing = sorted(set(expected) - set(months))
        raise DerivationError(f"{path.name} lacks month column(s) {', '.join(missing)}")
    frame = pq.read_table(path, columns=["majortext", "minortext", *months]).to_pandas()
    totals = frame.groupby(["majortext", "minortext"])[months].sum().sum(axis=1)
    return {(str(major), str(minor)): int(n) for (major, minor), n in totals.items()}


def blends(doc: dict[str, Any], counts: dict[tuple[str, str], int] | None = None) -> list[Blend]:
    """The blend of every category the table lists under ``derived`` (shipped counts by default)."""
    mix = doc["offence_mix"]
    counts = shipped_counts(doc) if counts is None else counts
    rows = mix["rows"]
    mapped = {(row["major"], row["minor"]) for row in rows}
    if mix.get("all_minor_categories"):
        unmapped = sorted(
            f"{major} / {minor}" for major, minor in counts if (major, minor) not in mapped
        )
        if unmapped:
            raise DerivationError(
                f"table {doc['name']}: minor categories with no mapping: {'; '.join(unmapped)}"
            )
    items = doc.get("items", {})
    result = []
    for slug in doc["derived"]:
        members = RETIRED_SUCCESSORS if slug == RETIRED else (slug,)
        parts = [
            (row["minor"], row["item"], counts.get((row["major"], row["minor"]), 0))
            for row in rows
            if row["category"] in members
        ]
        if not parts:
            raise DerivationError(f"table {doc['name']}: no offence-mix rows for {slug!r}")
        costed = [part for part in parts if part[1] is not None]
        total = sum(count for _, _, count in parts)
        if not costed:
            result.append(Blend(slug, None, total, parts))
            continue
        if len(costed) != len(parts):
            loose = ", ".join(minor for minor, item, _ in parts if item is None)
            raise DerivationError(
                f"table {doc['name']}: {slug!r} mixes costed and uncosted offences ({loose}); "
                "map every offence of a category to an item or none of them"
            )
        unknown = sorted({item for _, item, _ in parts if item not in items})
        if unknown:
            raise DerivationError(f"table {doc['name']}: items {unknown} have no value in 'items'")
        if total == 0:
            raise DerivationError(f"table {doc['name']}: no recorded crimes of {slug!r} in the mix")
        mean = sum(count * float(items[item]) for _, item, count in parts) / total
        result.append(Blend(slug, round(mean, int(mix.get("decimals", 0))), total, parts))
    return result


def derived_weights(
    doc: dict[str, Any], counts: dict[tuple[str, str], int] | None = None
) -> dict[str, float]:
    """slug -> weight for the table's derived categories (0 where not costed)."""
    return {blend.slug: blend.weight or 0.0 for blend in blends(doc, counts)}


def shipped_weights(doc: dict[str, Any]) -> dict[str, float]:
    """slug -> weight as the YAML ships it, for the derived categories."""
    out = {}
    for slug in doc["derived"]:
        entry = doc["weights"][slug]
        out[slug] = float(entry["weight"] if isinstance(entry, dict) else entry)
    return out


def _months(first: str, last: str) -> list[str]:
    months, year, month = [], int(first[:4]), int(first[4:])
    while f"{year}{month:02d}" <= last:
        months.append(f"{year}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _report(doc: dict[str, Any], counts: dict[tuple[str, str], int]) -> list[str]:
    unit = doc.get("unit", "")
    lines = [f"# {doc['name']} {doc['version']} ({unit})"]
    for blend in blends(doc, counts):
        weight = "not costed (0)" if blend.weight is None else f"{blend.weight:g}"
        lines.append(f"{blend.slug}: {weight}  [{blend.total} crimes]")
        for minor, item, count in blend.parts:
            share = count / blend.total if blend.total else 0.0
            value = "-" if item is None else f"{float(doc['items'][item]):,.10g}"
            lines.append(f"    {minor:<40} {count:>8} {share:7.2%}  {item or 'no item'} {value}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--table", action="append", help="table name (default: every derived one)")
    args = parser.parse_args(argv)
    ok = True
    for name in args.table or derived_tables():
        doc = table_document(name)
        counts = read_mix_counts(args.data, doc["offence_mix"])
        print("\n".join(_report(doc, counts)))
        shipped = shipped_counts(doc)
        for key, count in sorted(shipped.items()):
            if counts.get(key, 0) != count:
                ok = False
                print(f"MISMATCH count {key}: shipped {count}, data {counts.get(key, 0)}")
        rederived, in_file = derived_weights(doc, counts), shipped_weights(doc)
        for slug, weight in rederived.items():
            if weight != in_file[slug]:
                ok = False
                print(f"MISMATCH weight {slug}: shipped {in_file[slug]:g}, derived {weight:g}")
    print("all shipped numbers match the data" if ok else "shipped numbers differ from the data")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
