"""Harm weight tables: what one crime of each police.uk category is worth.

A table maps every police.uk category slug to a finite, non-negative weight in one unit (crimes,
pounds, days of imprisonment). Built-in tables are YAML files in ``tables/`` next to this module,
each carrying its source, version, method and a derivation note per category; custom tables are a
YAML or CSV file a user supplies, checked here before anything is weighted with them.

Two options change a table's weights and are stated in its provenance:

- ``exclude_police_generated``: drugs and possession of weapons are mostly found by police
  activity (stop and search, patrols) rather than reported by victims, so their counts measure
  enforcement as much as crime; Sherman, Neyroud and Neyroud (2016) recommend leaving them out of a
  harm index. Their weight becomes 0, and the retired public-disorder-weapons category takes the
  public-order weight (its non-weapons part).
- ``asb_weight``: anti-social behaviour has no cost or sentence weight; each table states its own
  rule and this overrides it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from pipelines import arrow_numpy
from pipelines.categories import CATEGORY_NAMES, canonical_category
from pipelines.errors import InputError
from pipelines.quoting import quoted

TABLES_DIR = Path(__file__).resolve().parent / "tables"
ASB = "anti-social-behaviour"
RETIRED = "public-disorder-weapons"
# police.uk split public-disorder-weapons into these two in 2013.
RETIRED_SUCCESSORS: tuple[str, ...] = ("public-order", "possession-of-weapons")
POLICE_GENERATED: tuple[str, ...] = ("drugs", "possession-of-weapons")
# Every table must weigh these; the retired slug is optional (only pre-2013 months carry it).
REQUIRED: tuple[str, ...] = tuple(slug for slug in CATEGORY_NAMES if slug != RETIRED)
ALL_SLUGS: tuple[str, ...] = tuple(CATEGORY_NAMES)
CSV_COLUMNS: tuple[str, ...] = ("category", "weight")
CSV_OPTIONAL: tuple[str, ...] = ("derivation",)
DEFAULT_KEY = "default"

# Top-level keys a table file may hold. The documentation keys of built-in tables are allowed in
# custom ones too, so a user can copy a built-in file and edit it.
_YAML_KEYS = frozenset(
    {
        "name",
        "version",
        "title",
        "source",
        "source_url",
        "unit",
        "method",
        "asb_rule",
        "default",
        "weights",
        "items",
        "offence_mix",
        "derived",
    }
)


class HarmTableError(InputError):
    """A harm table that cannot be used; the one-line message names the file and the problem."""


class _DuplicateKey(Exception):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


def unique_keys_loader(base: type) -> type:
    """``base`` (a PyYAML safe loader, libyaml's or the pure-Python one) refusing a key given
    twice in one mapping: YAML forbids it, and PyYAML would keep the last value without a word,
    so a category's weight could be silently replaced."""

    class UniqueKeysLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            seen: set[object] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    repeated = key in seen
                except TypeError:  # unhashable: the base constructor says so
                    continue
                if repeated:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeysLoader


# libyaml's parser when PyYAML has it: the same document, ~10x faster (cchi: 10 ms).
_TableLoader = unique_keys_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@dataclass(frozen=True)
class HarmTable:
    """A harm weight table with the options applied; ``weights`` covers every slug it knows."""

    name: str
    version: str
    title: str
    source: str
    unit: str
    method: str
    asb_rule: str
    weights: dict[str, float]
    derivations: dict[str, str] = field(default_factory=dict)
    default: float | None = None  # weight of any category the table does not list
    origin: str = "built-in"  # "built-in" or the custom file's path
    checksum: str = ""  # SHA-256 of the file the table was read from
    exclude_police_generated: bool = False
    asb_weight_override: float | None = None
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_unit(self) -> str:
        """The unit of a sum of weights: "GBP per crime (2015/16 prices)" sums to "GBP (2015/16
        prices)", "days of imprisonment per crime" to "days of imprisonment"."""
        return summed_unit(self.unit)

    def weight(self, slug: str) -> float:
        """The weight of one category slug; HarmTableError when the table has none for it."""
        if slug in self.weights:
            return self.weights[slug]
        if slug in CATEGORY_NAMES and self.default is not None:
            return self.default
        if slug in CATEGORY_NAMES:
            raise HarmTableError(
                f"harm table {self.name} {self.version} has no weight for {quoted(slug)} and no "
                f"default; add one to the table"
            )
        raise HarmTableError(f"{quoted(slug)} is not a police.uk category slug")

    def weights_for(self, categories: pa.Array | pa.ChunkedArray | np.ndarray | list) -> np.ndarray:
        """One float64 weight per crime, from its category slug (nulls and unknown slugs raise)."""
        array = _as_string_array(categories)
        if len(array) == 0:
            return np.zeros(0, dtype=np.float64)
        nulls = array.null_count
        if nulls:
            raise HarmTableError(
                f"{nulls} crime(s) have no category; every crime needs a police.uk category slug "
                "to be weighted"
            )
        index = pc.index_in(array, value_set=arrow_numpy.from_strings(ALL_SLUGS))
        if index.null_count:
            unknown = pc.unique(array.filter(pc.is_null(index))).to_pylist()
            shown = ", ".join(quoted(u) for u in sorted(unknown)[:10])
            raise HarmTableError(
                f"unknown crime category slug(s) {shown}; expected police.uk slugs "
                f"({', '.join(ALL_SLUGS)})"
            )
        codes = arrow_numpy.to_numpy(index).astype(np.int64)
        present = np.unique(codes)
        lookup = np.zeros(len(ALL_SLUGS), dtype=np.float64)
        for code in present.tolist():
            lookup[code] = self.weight(ALL_SLUGS[code])
        return lookup[codes]

    def with_options(
        self, *, exclude_police_generated: bool = False, asb_weight: float | None = None
    ) -> HarmTable:
        """This table with the police-generated exclusion and/or an ASB weight applied."""
        if self.exclude_police_generated or self.asb_weight_override is not None:
            raise HarmTableError("options are applied once, to a table as loaded")
        weights = dict(self.weights)
        asb_rule = self.asb_rule
        if asb_weight is not None:
            weights[ASB] = _check_number(asb_weight, f"asb_weight for table {self.name}")
            asb_rule = (
                f"anti-social-behaviour weighted {weights[ASB]:g} by request "
                f"(table rule: {asb_rule})"
            )
        if exclude_police_generated:
            for slug in POLICE_GENERATED:
                weights[slug] = 0.0
            successor = RETIRED_SUCCESSORS[0]
            weights[RETIRED] = weights.get(
                successor, self.default if self.default is not None else 0.0
            )
        return replace(
            self,
            weights=weights,
            asb_rule=asb_rule,
            exclude_police_generated=exclude_police_generated,
            asb_weight_override=None if asb_weight is None else weights[ASB],
        )

    def provenance(self) -> dict[str, Any]:
        """Everything a reader needs to name and check the weights a result used."""
        options = {
            "exclude_police_generated": self.exclude_police_generated,
            "asb_weight": self.weight(ASB),
            "asb_rule": self.asb_rule,
        }
        if self.exclude_police_generated:
            options["police_generated_rule"] = (
                f"{', '.join(POLICE_GENERATED)} weighted 0 (police-generated, as Sherman, Neyroud "
                f"and Neyroud 2016 advise); {RETIRED} weighted as {RETIRED_SUCCESSORS[0]}"
            )
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "source": self.source,
            "unit": self.unit,
            "origin": self.origin,
            "sha256": self.checksum,
            "options": options,
            "default": self.default,
            "weights": dict(sorted(self.weights.items())),
        }


def list_tables() -> list[str]:
    """Names of the built-in tables, as ``load_table`` takes them."""
    return sorted(path.stem for path in TABLES_DIR.glob("*.yaml"))


def load_table(
    name_or_path: str | Path,
    *,
    exclude_police_generated: bool = False,
    asb_weight: float | None = None,
) -> HarmTable:
    """A built-in table by name, or a custom YAML/CSV table file, validated, options applied."""
    table = _read(name_or_path)
    if exclude_police_generated or asb_weight is not None:
        table = table.with_options(
            exclude_police_generated=exclude_police_generated, asb_weight=asb_weight
        )
    return table


def _read(name_or_path: str | Path) -> HarmTable:
    if isinstance(name_or_path, str) and name_or_path in list_tables():
        return _built_in(name_or_path)
    path = Path(name_or_path)
    looks_like_file = isinstance(name_or_path, Path) or path.suffix or len(path.parts) > 1
    if not looks_like_file:
        raise HarmTableError(
            f"unknown harm table {quoted(str(name_or_path))}; built-in tables are "
            f"{', '.join(list_tables())}, or give the path of a .yaml or .csv table file"
        )
    if not path.exists():
        raise HarmTableError(f"harm table file {quoted(str(path))} does not exist")
    if not path.is_file():
        raise HarmTableError(f"harm table {quoted(str(path))} is not a file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _from_yaml(path, origin=str(path))
    if suffix == ".csv":
        return _from_csv(path)
    raise HarmTableError(
        f"harm table file {quoted(str(path))} must be YAML (.yaml, .yml) or CSV (.csv), "
        f"not {quoted(suffix)}"
    )


@functools.cache
def _built_in(name: str) -> HarmTable:
    """A built-in table, parsed once per process: they ship with the code and never change
    while it runs, and a warm-up asks for them once per study (11 ms of YAML each time)."""
    return _from_yaml(TABLES_DIR / f"{name}.yaml", origin="built-in")


def _from_yaml(path: Path, origin: str) -> HarmTable:
    raw = path.read_bytes()
    label = path.name
    try:
        doc = yaml.load(raw, Loader=_TableLoader)
    except _DuplicateKey as duplicate:
        raise HarmTableError(
            f"harm table {label}: key {quoted(str(duplicate.key))} is given twice (line "
            f"{duplicate.line}); give each key once"
        ) from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise HarmTableError(f"harm table {label}: not valid YAML{line}") from error
    if not isinstance(doc, dict):
        raise HarmTableError(f"harm table {label}: expected a mapping with a 'weights' section")
    extra = sorted(set(doc) - _YAML_KEYS)
    if extra:
        raise HarmTableError(
            f"harm table {label}: unknown key(s) {', '.join(map(repr, extra))}; allowed: "
            f"{', '.join(sorted(_YAML_KEYS))}"
        )
    entries = doc.get("weights")
    if not isinstance(entries, dict) or not entries:
        raise HarmTableError(f"harm table {label}: 'weights' must map category slugs to weights")
    weights: dict[str, Any] = {}
    derivations: dict[str, str] = {}
    for key, entry in entries.items():
        if isinstance(entry, dict):
            unexpected = sorted(set(entry) - {"weight", "derivation"})
            if unexpected or "weight" not in entry:
                raise HarmTableError(
                    f"harm table {label}: category {quoted(key)} must be a number or a mapping "
                    "with "
                    "'weight' (and optionally 'derivation')"
                )
            weights[key] = entry["weight"]
            if entry.get("derivation"):
                derivations[str(key)] = " ".join(str(entry["derivation"]).split())
        else:
            weights[key] = entry
    default = doc.get("default")
    checked, checked_default = _validate(weights, default, label)
    derivations = {canonical_category(k) or k: v for k, v in derivations.items()}
    is_custom = origin != "built-in"
    checksum = hashlib.sha256(raw).hexdigest()
    asb_rule = doc.get("asb_rule") or _default_asb_rule(checked, checked_default)
    return HarmTable(
        name=str(doc.get("name") or path.stem),
        version=str(doc.get("version") or f"sha256:{checksum[:12]}"),
        title=str(doc.get("title") or f"custom harm table {path.name}"),
        source=" ".join(str(doc.get("source") or f"custom table file {path}").split()),
        unit=str(doc.get("unit") or "unstated"),
        method=str(doc.get("method") or ("custom table: no method stated" if is_custom else "")),
        asb_rule=" ".join(str(asb_rule).split()),
        weights=checked,
        derivations=derivations,
        default=checked_default,
        origin=origin,
        checksum=checksum,
        document=doc,
    )


def _from_csv(path: Path) -> HarmTable:
    raw = path.read_bytes()
    label = path.name
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise HarmTableError(f"harm table {label}: not UTF-8 text") from error
    rows = list(csv.reader(text.splitlines()))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise HarmTableError(f"harm table {label}: empty; expected a header 'category,weight'")
    header = [cell.strip().lower() for cell in rows[0]]
    allowed = set(CSV_COLUMNS) | set(CSV_OPTIONAL)
    if (
        header[:2] != list(CSV_COLUMNS)
        or not set(header) <= allowed
        or len(set(header)) != len(header)
    ):
        raise HarmTableError(
            f"harm table {label}: columns must be 'category,weight' (optionally ',derivation'), "
            f"got {quoted(','.join(header))}"
        )
    weights: dict[str, Any] = {}
    derivations: dict[str, str] = {}
    default: Any = None
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise HarmTableError(
                f"harm table {label}: line {number} has more cells than the header"
            )
        cells = dict(zip(header, [cell.strip() for cell in row], strict=False))
        key, value = cells.get("category", ""), cells.get("weight", "")
        parsed = _parse_number(value)
        if key.lower() == DEFAULT_KEY:
            if default is not None:
                raise HarmTableError(f"harm table {label}: 'default' given twice")
            default = parsed
            continue
        if key in weights:
            raise HarmTableError(f"harm table {label}: category {quoted(key)} given twice")
        weights[key] = parsed
        if cells.get("derivation"):
            derivations[key] = cells["derivation"]
    checked, checked_default = _validate(weights, default, label)
    derivations = {canonical_category(k) or k: v for k, v in derivations.items()}
    checksum = hashlib.sha256(raw).hexdigest()
    return HarmTable(
        name=path.stem,
        version=f"sha256:{checksum[:12]}",
        title=f"custom harm table {path.name}",
        source=f"custom table file {path}",
        unit="unstated",
        method="custom table: no method stated",
        asb_rule=_default_asb_rule(checked, checked_default),
        weights=checked,
        derivations=derivations,
        default=checked_default,
        origin=str(path),
        checksum=checksum,
    )


def _parse_number(text: str) -> Any:
    # Keep the text when it is not a number, so _validate names it in the message.
    try:
        return float(text)
    except ValueError:
        return text


def _validate(
    weights: dict[Any, Any], default: Any, label: str
) -> tuple[dict[str, float], float | None]:
    unknown = [key for key in weights if canonical_category(str(key)) is None]
    if unknown:
        shown = ", ".join(repr(str(key)) for key in unknown)
        raise HarmTableError(
            f"harm table {label}: unknown category slug(s) {shown}; use police.uk slugs: "
            f"{', '.join(ALL_SLUGS)}"
        )
    checked: dict[str, float] = {}
    for key, value in weights.items():
        slug = canonical_category(str(key))
        assert slug is not None  # unknown keys were rejected above
        if slug in checked:
            raise HarmTableError(
                f"harm table {label}: category {quoted(slug)} given twice ({quoted(key)})"
            )
        checked[slug] = _check_number(value, f"harm table {label}: weight for {quoted(slug)}")
    checked_default = None
    if default is not None:
        checked_default = _check_number(default, f"harm table {label}: default weight")
    missing = [slug for slug in REQUIRED if slug not in checked]
    if missing and checked_default is None:
        raise HarmTableError(
            f"harm table {label}: no weight for {', '.join(missing)}; add them or a "
            f"'{DEFAULT_KEY}' weight"
        )
    return checked, checked_default


def _check_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise HarmTableError(f"{what} is {quoted(value)}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise HarmTableError(f"{what} is {quoted(value)}; weights must be finite numbers")
    if number < 0:
        raise HarmTableError(f"{what} is {quoted(value)}; weights must be 0 or more")
    return number


def _default_asb_rule(weights: dict[str, float], default: float | None) -> str:
    if ASB in weights:
        return f"anti-social-behaviour weighted {weights[ASB]:g} as the table gives it"
    return f"anti-social-behaviour not listed: weighted by the table default {default:g}"


def _as_string_array(categories: pa.Array | pa.ChunkedArray | np.ndarray | list) -> pa.Array:
    if isinstance(categories, pa.ChunkedArray):
        categories = (
            categories.combine_chunks() if categories.num_chunks else arrow_numpy.from_strings([])
        )
    if not isinstance(categories, pa.Array):
        values = np.asarray(categories, dtype=object)
        if values.ndim != 1:
            raise HarmTableError(f"categories must be 1-D, got shape {values.shape}")
        try:
            categories = pa.array(values, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise HarmTableError("categories must be strings (police.uk category slugs)") from error
    if pa.types.is_dictionary(categories.type):
        categories = categories.dictionary_decode()
    if not (pa.types.is_string(categories.type) or pa.types.is_large_string(categories.type)):
        raise HarmTableError(
            f"categories must be strings (police.uk category slugs), got {categories.type}"
        )
    return categories.cast(pa.string())


def summed_unit(unit: str) -> str:
    """The unit of a sum of per-crime weights in ``unit`` (drops "per crime")."""
    return unit.replace(" per crime", "")
