"""The briefing's rules, one by one (pure, no data), then on a real quickstart store: every
number a sentence says is a number of the profile, and the HTML and JSON agree."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from pipelines.briefing import (
    BriefingFacts,
    Change,
    HotspotFact,
    RateComparison,
    briefing,
    category_falls,
    category_rises,
    harm_share,
    hotspot_streets,
    parent_comparison,
    rank,
    total_change,
    volume,
)
from tests.live_server import live_server
from tests.quickstart_store import SET, TORMOHUN

FORBIDDEN_WITHOUT_A_TEST = re.compile(r"\b(rose|fell|increase|decrease|higher|lower|up|down)\b")


def facts(**changes: object) -> BriefingFacts:
    base = {
        "area": "Tormohun",
        "parent": "the 16 wards of torbay",
        "window": "Jan 2020 to Dec 2020",
        "total": Change("All crime", "total", 3927, 4088, -3.9),
    }
    return BriefingFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_volume_states_the_count_and_window() -> None:
    sentence = volume(facts())
    assert sentence.text == (
        "Tormohun had 3,927 crimes and anti-social behaviour incidents recorded by police.uk "
        "inside its boundary in the 12 months Jan 2020 to Dec 2020."
    )
    assert sentence.sources == {"total.count": "3,927"}


def test_an_untested_change_gives_both_counts_and_no_verb() -> None:
    sentence = total_change(facts())
    assert sentence is not None and sentence.rule == "total_change_untested"
    assert sentence.text == "The 12 months before had 4,088."
    assert not FORBIDDEN_WITHOUT_A_TEST.search(sentence.text)


def test_a_non_significant_change_is_never_a_rise() -> None:
    total = Change("All crime", "total", 1100, 1000, 10.0, significant=False)
    sentence = total_change(facts(total=total))
    assert sentence is not None and sentence.rule == "total_change_not_significant"
    assert "rose" not in sentence.text and "within what chance alone would produce" in sentence.text
    assert sentence.sources == {"total.count_previous": "1,000", "total.change_pct": "10%"}


def test_a_significant_change_rises_or_falls_with_its_size() -> None:
    up = total_change(facts(total=Change("All", "total", 1300, 1000, 30.0, significant=True)))
    down = total_change(facts(total=Change("All", "total", 700, 1000, -30.0, significant=True)))
    assert up is not None and up.text.startswith("Crime rose by 30% on the 12 months before")
    assert down is not None and down.text.startswith("Crime fell by 30% on the 12 months before")


def test_no_previous_window_no_change_sentence() -> None:
    assert total_change(facts(total=Change("All", "total", 10, None, None))) is None


def test_only_significant_category_changes_are_named_biggest_first() -> None:
    categories = [
        Change("Violence and sexual offences", "categories[0]", 1500, 1200, 25.0, True),
        Change("Shoplifting", "categories[1]", 400, 300, 33.3, True),
        Change("Burglary", "categories[2]", 200, 100, 100.0, False),  # not significant
        Change("Drugs", "categories[3]", 50, 100, -50.0, True),
    ]
    rises = category_rises(facts(categories=categories))
    falls = category_falls(facts(categories=categories))
    assert rises is not None and rises.text == (
        "Violence and sexual offences (1,200 to 1,500) and shoplifting (300 to 400) rose by more "
        "than chance would explain."
    )
    assert "Burglary" not in rises.text and "burglary" not in rises.text
    assert falls is not None and falls.text.startswith("Drugs (100 to 50) fell")
    untested = [Change("Drugs", "categories[0]", 50, 100, -50.0)]
    assert category_falls(facts(categories=untested)) is None


def test_harm_share_with_and_without_population() -> None:
    with_people = harm_share(
        facts(harm_share=0.271, population_share=0.08, harm_measure="harm (cost)")
    )
    assert with_people is not None and with_people.text == (
        "It accounts for 27% of the harm (cost) in the 16 wards of torbay, and is home to 8% of "
        "their residents."
    )
    alone = harm_share(facts(harm_share=0.05, harm_measure="harm (cost)"))
    assert alone is not None and "residents" not in alone.text
    assert harm_share(facts()) is None


def test_hot_spots_are_named_by_street_or_their_absence_said() -> None:
    spots = [
        HotspotFact(1, ("Union Street", "Abbey Road"), 412, "99%"),
        HotspotFact(2, (), 50, "95%"),  # no street known: skipped, not invented
        HotspotFact(3, ("Rock Road",), 90, "95%"),
    ]
    named = hotspot_streets(facts(hotspots_available=True, hotspots=spots))
    assert named is not None and named.text == (
        "The strongest hot spots are near Union Street (412 crimes) and Rock Road (90 crimes)."
    )
    none = hotspot_streets(facts(hotspots_available=True, hotspots=[]))
    assert none is not None and none.rule == "no_hotspots"
    assert hotspot_streets(facts(hotspots_available=False)) is None  # no list: say nothing


def test_the_parent_comparison_needs_a_test_to_say_higher() -> None:
    untested = parent_comparison(facts(rate=RateComparison(385.8, 110.3)))
    assert untested is not None and untested.rule == "rate_untested"
    assert not FORBIDDEN_WITHOUT_A_TEST.search(untested.text)
    # The rate is of the profile's total, anti-social behaviour included: the words say so.
    assert "crimes and anti-social behaviour incidents per 1,000 residents" in untested.text
    similar = parent_comparison(facts(rate=RateComparison(120.0, 110.3, significant=False)))
    assert similar is not None and "higher" not in similar.text
    higher = parent_comparison(facts(rate=RateComparison(385.8, 110.3, significant=True)))
    assert higher is not None and higher.rule == "rate_higher"
    assert parent_comparison(facts()) is None


def test_rank_says_what_it_ranks_by() -> None:
    first = rank(facts(rank=1, rank_of=16, rank_by="rate"))
    assert first is not None
    assert first.text == "By crimes per resident it is the highest of the 16 wards of torbay."
    third = rank(facts(rank=3, rank_of=16, rank_by="count"))
    assert third is not None and third.text.startswith("By number of crimes it is 3rd highest")
    assert rank(facts(rank=12, rank_of=16)).text.startswith("By number of crimes it is 12th")  # type: ignore[union-attr]


def test_the_briefing_keeps_rule_order_and_drops_empty_rules() -> None:
    rules = [s.rule for s in briefing(facts(rank=2, rank_of=16))]
    assert rules == ["volume", "total_change_untested", "rank"]


# ----------------------------------------------------------- on a real quickstart's profile


def _profile_value(profile: dict, path: str) -> object:
    value: object = profile
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]  # type: ignore[index]
    return value


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


@pytest.fixture(scope="module")
def base(quickstart_dir: Path, no_precompute: None) -> str:
    with live_server(Settings(data_dir=quickstart_dir, tiles="none")) as url:
        yield url


def test_every_number_said_is_a_number_of_the_profile(base: str) -> None:
    for area in ("Tormohun", "Shiphay", "Wellswood"):
        profile = httpx.get(f"{base}/v1/boundaries/{SET}/areas/{area}/profile", timeout=300)
        said = httpx.get(f"{base}/v1/boundaries/{SET}/areas/{area}/briefing", timeout=300)
        assert said.status_code == 200, said.text
        profile_json, sentences = profile.json(), said.json()["sentences"]
        assert sentences[0]["rule"] == "volume"
        assert sentences[1]["rule"].startswith("total_")  # tested by the profile's own test
        for sentence in sentences:
            values = set(sentence["sources"].values())
            text = sentence["text"].replace(SET, "the set")  # its name has digits
            numbers = re.findall(r"\d[\d,]*(?:\.\d+)?%?", text)
            # Years, "12 months", "per 1,000" and the set's 16 wards are not measurements.
            spoken = [n for n in numbers if not re.fullmatch(r"20\d\d|12|1,000|16", n)]
            for number in spoken:  # every number said has a source (years and sizes aside)
                assert number in values, (number, sentence)
            for path, value in sentence["sources"].items():
                if "/" in path:
                    continue  # a ratio of two profile fields
                held = _profile_value(profile_json, path)
                if isinstance(held, str):
                    assert held == value
                elif isinstance(held, list):  # a count of items ("hotspots.items": "0")
                    assert len(held) == _number(value), (path, held, value)
                elif path.endswith("share_of_parent"):
                    assert round(float(held) * 100) == _number(value)
                else:  # a change is said without its sign ("fell by 4%")
                    assert abs(abs(float(held)) - _number(value)) <= 0.51, (path, held, value)


def test_the_briefing_page_shows_the_sentences_and_their_sources(base: str) -> None:
    page = httpx.get(f"{base}/v1/boundaries/{SET}/areas/{TORMOHUN}/briefing?format=html")
    said = httpx.get(f"{base}/v1/boundaries/{SET}/areas/{TORMOHUN}/briefing").json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for sentence in said["sentences"]:
        assert sentence["text"].replace("'", "&#39;") in page.text
    # The trace in words ("Burglary, 12 months before: 1,074"); field paths only in the JSON.
    assert "from: All crime, last 12 months: 3,927" in page.text
    assert "categories[" not in page.text and "total.count" not in page.text
    assert "hotspots.items" not in page.text and " = " not in page.text
    paths = [path for s in said["sentences"] for path in s["sources"]]
    assert any(path.startswith("categories[") for path in paths)
    assert re.search(r"from: [A-Z][a-z ,-]+, (12 months before|last 12 months): [\d,]+", page.text)
    assert f'href="/areas/{SET}/{TORMOHUN}"' in page.text  # breadcrumbs back to the area
