"""The words on a map for a person who is not an analyst: a title that says what, where and
when; legend classes in plain words (the technical name kept as the swatch's tooltip); the
backtest's result as a sentence. Pure functions of a study's provenance, tested on their own."""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.months import window_words
from pipelines.wording import areas_in_set

# What a weights table measures, in words (count weights count crimes; the rest weigh harm).
HARM_WORDS: dict[str, str] = {
    "count": "crime",
    "home-office-2018": "harm (Home Office cost of crime, £)",
    "cchi": "harm (Cambridge Crime Harm Index, days in prison)",
}


def measure_words(weights: str) -> str:
    """'crime' for count weights, 'harm (...)' for a harm table."""
    return HARM_WORDS.get(weights, f"harm ({weights})")


def short_measure(weights: str) -> str:
    return "crime" if weights == "count" else "harm"


def place_words(
    set_name: str, area_names: Sequence[str], scheme: str, total_areas: int, titled: bool = False
) -> str:
    """'Tormohun', 'Tormohun and Ellacombe', or the whole set: 'the 16 wards in Torbay wards
    (2019)' (``set_name`` is the set's title when it has one, its code otherwise; ``titled`` is
    kept for callers, the words are the same either way)."""
    if area_names and len(area_names) < total_areas:
        if len(area_names) == 1:
            return area_names[0]
        if len(area_names) <= 3:
            return f"{', '.join(area_names[:-1])} and {area_names[-1]}"
        return f"{len(area_names)} areas of {set_name}"
    return areas_in_set(total_areas, scheme, set_name)


def map_title(weights: str, place: str, first: str, last: str, method: str = "gistar") -> str:
    """What, where and when: 'Hot spots of crime in Tormohun, Jan 2020 to Dec 2020'."""
    what = "Hot spots" if method == "gistar" else "Clusters"
    return f"{what} of {short_measure(weights)} in {place}, {window_words(first, last)}"


def scope_words(set_name: str, place: str) -> str:
    """Said on a map of areas judged against their set (the default scope)."""
    return f"hot spots judged against all of {set_name}; showing {place}"


def alone_words(place: str) -> str:
    """Said on a map of areas studied alone (scope=areas): their hot spots are judged against
    themselves only, so the same areas' map under the default scope can show others."""
    return f"{place} studied alone, not judged against the whole set"


def gi_class_words(weights: str) -> dict[int, str]:
    """Gi* classes -3..3 in plain words (the confidence stays: it is what a reader weighs)."""
    what = short_measure(weights)
    return {
        3: f"Far more {what} here than chance would explain (99 % confidence)",
        2: f"Far more {what} here than chance would explain (95 % confidence)",
        1: f"More {what} here than chance would explain (90 % only: not a hot spot)",
        0: "No more or less than chance would explain",
        -1: f"Less {what} here than chance would explain (90 % only: not a cold spot)",
        -2: f"Far less {what} here than chance would explain (95 % confidence)",
        -3: f"Far less {what} here than chance would explain (99 % confidence)",
    }


def lisa_class_words(weights: str) -> dict[str, str]:
    what = short_measure(weights)
    return {
        "HH": f"High {what} next to high {what} (a hot spot)",
        "HL": f"High {what} in a low area (an outlier)",
        "LH": f"Low {what} in a high area (an outlier)",
        "LL": f"Low {what} next to low {what} (a cold spot)",
        "ns": "No clear pattern",
    }


def backtest_words(backtest: dict | None) -> str | None:
    """The recorded backtest of these settings as one sentence, or None when none is recorded."""
    if not backtest:
        return None
    train, test = _months(backtest["train"]), _months(backtest["test"])
    sentence = (
        f"Tested on past data: hot spots chosen on {window_words(*train)} "
        f"held {backtest['hit_rate'] * 100:.0f} % of the next period's crime "
        f"({window_words(*test)}) in {backtest['area_share'] * 100:.1f} % "
        f"of the area: {backtest['pai']:.1f} times what an even spread would catch "
        "(Predictive Accuracy Index, PAI)."
    )
    # Which recorded run this is: the one of this map's set, scope, weights and resolution.
    if backtest.get("run_at"):
        sentence += (
            f" From the backtest run of {backtest['run_at'][:10]} at H3 resolution "
            f"{backtest['resolution']}, weights {backtest['selection']}."
        )
    if backtest.get("stale"):
        sentence += " The data have changed since that test."
    return sentence


def _months(period: str | dict) -> tuple[str, str]:
    """(first, last) of a recorded period: "YYYY-MM..YYYY-MM" as the record writes it."""
    if isinstance(period, dict):
        return period["first"], period["last"]
    first, _, last = period.partition("..")
    return first, last or first


_SMALL_WORDS = {"and", "of", "the"}


def force_words(slug: str) -> str:
    """'devon-and-cornwall' -> 'Devon and Cornwall' (police.uk slugs are the force's name)."""
    words = slug.split("-")
    return " ".join(w if (i and w in _SMALL_WORDS) else w.capitalize() for i, w in enumerate(words))


def elsewhere_words(outside: int, forces: Sequence[str]) -> str | None:
    """Crimes the store holds outside the region, said once in words (not an 'outside' count a
    reader would add to the region's); None when there are none."""
    if outside <= 0:
        return None
    where = " and ".join(force_words(f) for f in forces) if forces else "other areas"
    noun = "crime" if outside == 1 else "crimes"
    return f"The store also holds {outside:,} {noun} elsewhere in {where}, not shown here."
