"""The options of a hot spot study, defined once for every command that runs one (``analyse``,
``backtest``; ``compare`` and ``allocate`` share the weights, resolution and Gi* settings), so
each option has one name, one help text and one meaning everywhere. Commands import the module
and write ``alpha: study.Alpha = 0.05``. Defaults stay at each command: the same option can
default differently (``analyse`` counts crimes, the planning commands weigh harm)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import alpha_level

Resolution = Annotated[int, typer.Option("--res", help="H3 study resolution, 7-10.")]
Weights = Annotated[
    str, typer.Option("--weights", help="Harm table: count, home-office-2018, cchi, or a file.")
]
Category = Annotated[
    list[str] | None,
    typer.Option("--category", help="Only this crime category (repeatable).", show_default=False),
]
ExcludePoliceGenerated = Annotated[
    bool,
    typer.Option(
        "--exclude-police-generated",
        help="Leave out drugs and possession of weapons (found by police activity).",
    ),
]
Method = Annotated[str, typer.Option("--method", help="gistar or lisa.")]
Neighbours = Annotated[int, typer.Option("--k", help="Neighbour rings around each cell, 1-3.")]
Permutations = Annotated[
    int,
    typer.Option(
        "--permutations", help="Permutations for p-values (0 needs --p-for-classes analytic)."
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed for permutations.")]
Alpha = Annotated[
    float,
    typer.Option(
        "--alpha",
        help="Significance level of a hot spot (adjusted p), 0.000001 to 0.5.",
        callback=alpha_level,
    ),
]
Correction = Annotated[
    str,
    typer.Option("--correction", help="Multiple testing: fdr_bh, fdr_by, bonferroni, holm, none."),
]
PForClasses = Annotated[
    str,
    typer.Option(
        "--p-for-classes",
        help="Which p classes Gi* cells: permutation (default; controls false hot spots), "
        "or the opt-in analytic / analytic-gated (flag noise on over-dispersed counts).",
    ),
]
Scope = Annotated[
    str,
    typer.Option(
        "--scope",
        help="With --area: set (default: the areas' hot spots are judged against the whole "
        "boundary set, as on their map) or areas (the named areas alone are the study region).",
    ),
]
