"""Areas and the relation point -> area and cell -> area: boundary sets, ward clusters, custom
areas, exact crime-to-area assignment, study-region H3 covers and population denominators.

Boundaries know nothing about statistics; they answer "which area is this crime (or cell) in?"
and "how many people live there?". See docs/boundaries.md for every rule used.
"""
