"""Harm weight tables: built-ins, options, custom YAML/CSV files and errors, blend derivation."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from pipelines.categories import CATEGORY_NAMES
from pipelines.harm import POLICE_GENERATED, HarmTableError, list_tables, load_table
from pipelines.harm.derive_blends import (
    DerivationError,
    blends,
    derived_tables,
    derived_weights,
    read_mix_counts,
    shipped_counts,
    shipped_weights,
    table_document,
)
from pipelines.harm.table import REQUIRED, TABLES_DIR

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BUILT_IN = ["count", "home-office-2018", "cchi"]


# -- built-in tables ---------------------------------------------------------------------------


def test_built_in_tables_are_listed() -> None:
    assert sorted(list_tables()) == sorted(BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_table_weighs_every_category_and_documents_it(name: str) -> None:
    table = load_table(name)
    assert set(table.weights) == set(CATEGORY_NAMES)  # the 14 and the retired slug
    assert all(math.isfinite(w) and w >= 0 for w in table.weights.values())
    assert set(table.derivations) == set(CATEGORY_NAMES)
    assert all(len(note) > 10 for note in table.derivations.values())
    provenance = table.provenance()
    assert provenance["name"] == name and provenance["version"] == table.version
    for key in ("source", "unit", "title"):
        assert len(provenance[key]) > 5
    assert len(provenance["sha256"]) == 64
    assert provenance["options"]["exclude_police_generated"] is False
    assert "anti-social-behaviour" in provenance["options"]["asb_rule"]
    assert len(table.method) > 50


def test_count_table_counts_everything_including_asb() -> None:
    table = load_table("count")
    assert set(table.weights.values()) == {1.0}


def test_home_office_table_uses_the_published_unit_costs() -> None:
    doc = table_document("home-office-2018")
    published = {
        "homicide": 3217740,
        "rape": 39360,
        "violence-with-injury": 14050,
        "robbery": 11320,
        "theft-of-vehicle": 10290,
        "arson": 8420,
        "other-sexual-offences": 6520,
        "violence-without-injury": 5930,
        "domestic-burglary": 5930,
        "theft-from-the-person": 1380,
        "theft-from-vehicle": 870,
        "commercial-burglary": 15460,
        "shoplifting-and-other-theft": 1390,
        "bicycle-theft": 1390,
        "criminal-damage-other": 1350,
    }
    assert doc["items"] == published
    table = load_table("home-office-2018")
    assert table.weight("anti-social-behaviour") == 0
    # A blend lies between the cheapest and dearest offence it mixes.
    assert 5930 < table.weight("violent-crime") < 3217740
    assert 5930 < table.weight("burglary") < 15460
    assert 870 < table.weight("vehicle-crime") < 10290
    assert 1350 < table.weight("criminal-damage-arson") < 8420


def test_cchi_table_uses_the_published_values_and_ranges() -> None:
    table = load_table("cchi")
    fixed = {
        "robbery": 365,
        "possession-of-weapons": 273.75,
        "other-crime": 10,
        "public-order": 7.5,
        "vehicle-crime": 5,
        "other-theft": 2,
        "theft-from-the-person": 2,
        "bicycle-theft": 2,
        "shoplifting": 1,
    }
    for slug, value in fixed.items():
        assert table.weight(slug) == value
    ranges = {
        "violent-crime": (159, 235),
        "burglary": (191, 253),
        "criminal-damage-arson": (4.9, 18.2),
        "drugs": (3.3, 4.0),
    }
    for slug, (low, high) in ranges.items():
        assert low <= table.weight(slug) <= high
    assert table.weight("anti-social-behaviour") == 0
    assert 7.5 < table.weight("public-disorder-weapons") < 273.75


def test_unknown_table_name_lists_the_built_ins() -> None:
    with pytest.raises(HarmTableError, match="unknown harm table 'no-such-table'") as error:
        load_table("no-such-table")
    message = str(error.value)
    assert "\n" not in message and all(name in message for name in BUILT_IN)


# -- weights_for -------------------------------------------------------------------------------


def test_weights_for_maps_slugs_from_any_array() -> None:
    table = load_table("home-office-2018")
    slugs = ["burglary", "robbery", "anti-social-behaviour", "burglary"]
    expected = [table.weight(s) for s in slugs]
    chunked = pa.chunked_array([slugs[:2], slugs[2:]])
    for given in (
        slugs,
        np.array(slugs),
        np.array(slugs, dtype=object),
        pa.array(slugs),
        pa.array(slugs, pa.large_string()),
        pa.array(slugs).dictionary_encode(),
        chunked,
    ):
        weights = table.weights_for(given)
        assert weights.dtype == np.float64 and weights.tolist() == expected
    assert table.weights_for(np.array([], dtype=object)).shape == (0,)
    assert table.weights_for(pa.chunked_array([], pa.string())).shape == (0,)


def test_weights_for_rejects_unknown_and_missing_categories() -> None:
    table = load_table("cchi")
    with pytest.raises(HarmTableError, match="'burglery'"):
        table.weights_for(["burglary", "burglery"])
    with pytest.raises(HarmTableError, match="no category"):
        table.weights_for(pa.array(["burglary", None]))
    with pytest.raises(HarmTableError, match="strings"):
        table.weights_for(pa.array([1, 2]))


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILT_IN)
def test_exclude_police_generated(name: str) -> None:
    plain = load_table(name)
    table = load_table(name, exclude_police_generated=True)
    for slug in POLICE_GENERATED:
        assert table.weight(slug) == 0
    assert table.weight("public-disorder-weapons") == plain.weight("public-order")
    assert table.weight("burglary") == plain.weight("burglary")
    options = table.provenance()["options"]
    assert options["exclude_police_generated"] is True
    assert "drugs" in options["police_generated_rule"]
    weights = table.weights_for(["drugs", "possession-of-weapons", "robbery"])
    assert weights.tolist() == [0.0, 0.0, plain.weight("robbery")]


def test_asb_weight_overrides_the_table_rule_and_says_so() -> None:
    table = load_table("cchi", asb_weight=1.5)
    assert table.weight("anti-social-behaviour") == 1.5
    options = table.provenance()["options"]
    assert options["asb_weight"] == 1.5 and "by request" in options["asb_rule"]
    with pytest.raises(HarmTableError, match="0 or more"):
        load_table("cchi", asb_weight=-1)
    with pytest.raises(HarmTableError, match="applied once"):
        table.with_options(asb_weight=2)


# -- custom tables -----------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_yaml_table_loads(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "partnership.yaml",
        "name: torbay-csp\nversion: '2'\nsource: Torbay CSP board, March 2025\nunit: points\n"
        "default: 1\nweights:\n  burglary: 10\n  Violence and sexual offences: 20\n"
        "  robbery: {weight: 15, derivation: board decision}\n",
    )
    table = load_table(path)
    assert (table.name, table.version, table.unit) == ("torbay-csp", "2", "points")
    assert table.weight("violent-crime") == 20 and table.weight("drugs") == 1
    assert table.derivations["robbery"] == "board decision"
    assert table.weights_for(["robbery", "shoplifting"]).tolist() == [15.0, 1.0]
    provenance = table.provenance()
    assert provenance["origin"] == str(path) and provenance["default"] == 1


def test_custom_yaml_table_without_version_is_named_by_its_content(tmp_path: Path) -> None:
    body = "default: 0\nweights:\n  burglary: 3\n"
    first = load_table(_write(tmp_path / "a.yaml", body))
    second = load_table(_write(tmp_path / "b.yaml", body.replace("3", "4")))
    assert first.name == "a" and first.version.startswith("sha256:")
    assert first.version != second.version


def test_custom_csv_table_loads(tmp_path: Path) -> None:
    rows = "\n".join(f"{slug},{i}" for i, slug in enumerate(REQUIRED))
    path = _write(tmp_path / "weights.csv", f"category,weight\n{rows}\n")
    table = load_table(str(path))
    assert table.weight(REQUIRED[3]) == 3.0 and table.name == "weights"
    with pytest.raises(HarmTableError, match="public-disorder-weapons"):
        table.weights_for(["public-disorder-weapons"])
    noted = _write(
        tmp_path / "noted.csv",
        "Category,Weight,Derivation\ndefault,2\nburglary,7.5,our audit\n",
    )
    table = load_table(noted)
    assert table.weight("burglary") == 7.5 and table.weight("drugs") == 2
    assert table.weight("public-disorder-weapons") == 2
    assert table.derivations == {"burglary": "our audit"}


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("t.yaml", "default: 1\nweights:\n  burglery: 1\n  vehicle: 2\n", "'burglery', 'vehicle'"),
        ("t.yaml", "default: 1\nweights:\n  burglary: -2\n", "'burglary' is -2; .*0 or more"),
        ("t.yaml", "default: 1\nweights:\n  burglary: abc\n", "'burglary' is 'abc', not a number"),
        ("t.yaml", "default: 1\nweights:\n  burglary: '3'\n", "not a number"),
        ("t.yaml", "default: 1\nweights:\n  burglary: true\n", "not a number"),
        ("t.yaml", "default: 1\nweights:\n  burglary: .nan\n", "finite"),
        ("t.yaml", "default: .inf\nweights:\n  burglary: 1\n", "default weight .*finite"),
        ("t.yaml", "weights:\n  burglary: 1\n", "no weight for anti-social-behaviour.*default"),
        ("t.yaml", "default: 1\nweigths:\n  burglary: 1\n", "unknown key.*'weigths'"),
        ("t.yaml", "- burglary\n- 1\n", "mapping"),
        ("t.yaml", "default: 1\nweights: [1, 2]\n", "'weights' must map"),
        ("t.yaml", "default: 1\nweights:\n  burglary: {value: 1}\n", "'weight'"),
        ("t.yaml", "weights: {burglary: 1\n", "not valid YAML"),
        ("t.yaml", "default: 1\nweights:\n  burglary: 1\n  Burglary: 2\n", "given twice"),
        ("t.csv", "slug,value\nburglary,1\n", "columns must be 'category,weight'"),
        ("t.csv", "category,weight,colour\nburglary,1,red\n", "columns must be"),
        ("t.csv", "category,weight\ndefault,1\nburglary,lots\n", "'lots', not a number"),
        ("t.csv", "category,weight\ndefault,1\nburglary,1\nburglary,2\n", "given twice"),
        ("t.csv", "category,weight\ndefault,1\nburglary,1,extra\n", "line 3"),
        ("t.csv", "category,weight\nburglary,1\n", "no weight for .*drugs"),
        ("t.csv", "", "empty"),
        ("t.txt", "category,weight\n", "must be YAML .* or CSV"),
    ],
)
def test_malformed_custom_tables_give_one_line_errors(
    tmp_path: Path, file: str, text: str, message: str
) -> None:
    path = _write(tmp_path / file, text)
    with pytest.raises(HarmTableError, match=message) as error:
        load_table(path)
    assert "\n" not in str(error.value)


def test_table_paths_that_are_not_files(tmp_path: Path) -> None:
    with pytest.raises(HarmTableError, match="does not exist"):
        load_table(tmp_path / "absent.yaml")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(HarmTableError, match="is not a file"):
        load_table(folder)


# -- blend derivation --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["home-office-2018", "cchi"])
def test_shipped_blends_follow_from_the_shipped_offence_mix(name: str) -> None:
    doc = table_document(name)
    assert name in derived_tables()
    assert derived_weights(doc) == shipped_weights(doc)
    table = load_table(name)
    for slug, weight in shipped_weights(doc).items():
        assert table.weight(slug) == weight


def test_blend_is_the_count_weighted_mean_of_the_items() -> None:
    doc = table_document("home-office-2018")
    rows = [r for r in doc["offence_mix"]["rows"] if r["category"] == "vehicle-crime"]
    total = sum(r["count"] for r in rows)
    mean = sum(r["count"] * doc["items"][r["item"]] for r in rows) / total
    assert derived_weights(doc)["vehicle-crime"] == round(mean)


def test_blend_rejects_gaps_and_clashes_in_the_mapping() -> None:
    doc = table_document("home-office-2018")
    counts = shipped_counts(doc) | {("NEW MAJOR", "NEW MINOR"): 5}
    with pytest.raises(DerivationError, match="NEW MAJOR / NEW MINOR"):
        blends(doc, counts)
    clash = copy.deepcopy(doc)
    for row in clash["offence_mix"]["rows"]:
        if row["minor"] == "STALKING AND HARASSMENT":
            row["item"] = None
    with pytest.raises(DerivationError, match=r"mixes costed and uncosted.*STALKING"):
        blends(clash)


def test_every_ho_minor_category_is_mapped_with_a_police_uk_category() -> None:
    doc = table_document("home-office-2018")
    for row in doc["offence_mix"]["rows"]:
        assert row["category"] is None or row["category"] in CATEGORY_NAMES
        assert row["item"] is None or row["item"] in doc["items"]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["home-office-2018", "cchi"])
def test_rederived_from_london_datastore_matches_shipped(name: str) -> None:
    doc = table_document(name)
    if not (SHARED_DATA / doc["offence_mix"]["file"]).is_file():
        pytest.skip(f"needs {doc['offence_mix']['file']} in {SHARED_DATA} (absent here)")
    counts = read_mix_counts(SHARED_DATA, doc["offence_mix"])
    shipped = shipped_counts(doc)
    assert {key: counts.get(key, 0) for key in shipped} == shipped
    assert derived_weights(doc, counts) == shipped_weights(doc)


def test_built_in_yaml_files_parse_as_plain_yaml() -> None:
    # The files are data for other tools too: they must load without project code.
    for name in BUILT_IN:
        doc = yaml.safe_load((TABLES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        assert doc["name"] == name and str(doc["version"]) == load_table(name).version


def test_a_sum_of_weights_is_labelled_without_per_crime() -> None:
    # Legends and totals show sums: "GBP per crime" summed over an area is GBP, not GBP per crime.
    from geo_service.maps.area_map import metric_label

    table = load_table("home-office-2018")
    assert table.total_unit == "GBP (2015/16 prices)"
    assert load_table("cchi").total_unit == "days of imprisonment"
    assert metric_label("harm_per_km2", table) == (
        "Harm per km² (home-office-2018: GBP (2015/16 prices) per km²)"
    )


@pytest.mark.parametrize("loader", ["SafeLoader", "CSafeLoader"])
def test_a_category_given_twice_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    """PyYAML keeps the last of two equal keys without a word, so `burglary: 1, burglary: 2`
    loaded as burglary 2; both loaders (libyaml's when PyYAML has it) refuse it now."""
    import pipelines.harm.table as table_module

    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML was built without {loader}")
    monkeypatch.setattr(
        table_module, "_TableLoader", table_module.unique_keys_loader(getattr(yaml, loader))
    )
    flow = _write(tmp_path / "flow.yaml", "default: 1\nweights: {burglary: 1, burglary: 2}\n")
    with pytest.raises(HarmTableError, match=r"key 'burglary' is given twice \(line 2\)"):
        load_table(flow)
    block = "default: 1\nweights:\n  robbery: 3\n  burglary: 1\n  burglary: 2\n"
    with pytest.raises(HarmTableError, match=r"key 'burglary' is given twice \(line 5\)"):
        load_table(_write(tmp_path / "block.yaml", block))
    assert (
        load_table(_write(tmp_path / "ok.yaml", block.replace("  burglary: 2\n", ""))).weight(
            "burglary"
        )
        == 1
    )
