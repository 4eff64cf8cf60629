"""Crime categories: one canonical slug per police.uk category.

The archive CSVs name categories in words ("Violence and sexual offences"); the API uses slugs
(``violent-crime``). Both map to the API slug, which is the canonical value in the store. Names
retired by police.uk (2011-2013) map to the slug that replaced them, so long series stay comparable.
Source: data.police.uk ``/api/crime-categories`` and the archive's "Crime type" column.
"""

from __future__ import annotations

# Canonical slug -> current display name, as /api/crime-categories returns them.
CATEGORY_NAMES: dict[str, str] = {
    "anti-social-behaviour": "Anti-social behaviour",
    "bicycle-theft": "Bicycle theft",
    "burglary": "Burglary",
    "criminal-damage-arson": "Criminal damage and arson",
    "drugs": "Drugs",
    "other-theft": "Other theft",
    "possession-of-weapons": "Possession of weapons",
    "public-order": "Public order",
    "robbery": "Robbery",
    "shoplifting": "Shoplifting",
    "theft-from-the-person": "Theft from the person",
    "vehicle-crime": "Vehicle crime",
    "violent-crime": "Violence and sexual offences",
    "other-crime": "Other crime",
    # Retired in 2013, still present in older archive months and API answers.
    "public-disorder-weapons": "Public disorder and weapons",
}

# Older names police.uk used for the same slug.
_RETIRED_NAMES: dict[str, str] = {
    "violent crime": "violent-crime",
    "violence": "violent-crime",
    "criminal damage & arson": "criminal-damage-arson",
}


def _key(text: str) -> str:
    return " ".join(text.strip().lower().split())


_LOOKUP: dict[str, str] = {_key(name): slug for slug, name in CATEGORY_NAMES.items()}
_LOOKUP.update({_key(slug): slug for slug in CATEGORY_NAMES})
_LOOKUP.update(_RETIRED_NAMES)


def canonical_category(value: str) -> str | None:
    """The canonical slug for a CSV category name or API slug; None when it is not a known one."""
    return _LOOKUP.get(_key(value))


def canonical_categories(values: list[str]) -> dict[str, str | None]:
    """Map each distinct value once (a file holds a handful of distinct names, not thousands)."""
    return {value: canonical_category(value) for value in values}
