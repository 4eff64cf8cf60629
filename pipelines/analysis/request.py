"""What a study is asked: the one ``StudyRequest`` the CLI, the service and the caches share.

Kept free of the numerical stack (no numpy, pandas or scipy) so that a command answered from
the study cache can build its key without loading them; ``pipelines.analysis.study`` checks
a request before running it (a request is only ever cached after it ran).
"""

from __future__ import annotations

from dataclasses import dataclass

# The p rule for Gi* classes (pipelines.analysis.gistar explains the choice).
P_FOR_CLASSES = ("permutation", "analytic", "analytic-gated")
DEFAULT_P_FOR_CLASSES = "permutation"
# What a study of named areas is judged against (pipelines/analysis/scope.py explains).
SCOPES = ("set", "areas")
DEFAULT_SCOPE = "set"


@dataclass(frozen=True)
class StudyRequest:
    boundaries: str  # boundary set name
    areas: tuple[str, ...] = ()  # area codes of the set; empty = the whole set
    resolution: int = 9
    first: str | None = None  # default: the 12 months ending with the latest stored
    last: str | None = None
    force: str | None = None  # default: every force stored
    categories: tuple[str, ...] = ()  # canonical slugs or police.uk names; empty = all
    weights: str = "count"  # harm table name or a custom table file
    exclude_police_generated: bool = False
    method: str = "gistar"
    k: int = 1
    permutations: int = 999
    seed: int = 0
    alpha: float = 0.05
    correction: str = "fdr_bh"
    p_for_classes: str = DEFAULT_P_FOR_CLASSES  # Gi* only; see pipelines/analysis/gistar.py
    emerging: bool = False  # per-month Gi* + Mann-Kendall (needs at least 10 months)
    adjust: bool = True  # let the data guard widen the window or change the resolution
    # With areas named: "set" studies the whole boundary set and shows the areas' cells;
    # "areas" makes the named areas alone the study region. Without areas both are one study.
    scope: str = DEFAULT_SCOPE
