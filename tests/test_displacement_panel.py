"""The displacement page's main box says what happened in plain words and claims crimes saved
only when the notes do: when the target's fall is significant against the control area."""

from __future__ import annotations

import html
import re

from geo_service.maps.displacement_map import result_panel
from pipelines.planning.displacement import Counts, explain, weighted_displacement_quotient


def _panel(before: Counts, after: Counts) -> tuple[str, str, str, str]:
    """(main box text, its HTML, technical notes, reading) of the page for these counts."""
    result = weighted_displacement_quotient(before, after)
    body = result.to_dict() | {
        "before_period": "2019-01:2019-12",
        "after_period": "2020-01:2020-12",
        "explanation": explain(result),
    }
    main, notes = result_panel(body).split("<details", 1)
    return html.unescape(re.sub(r"<[^>]+>", " ", main)), main, html.unescape(notes), result.reading


def test_no_crimes_saved_claimed_when_the_target_rose_and_nothing_is_significant() -> None:
    # The tester's case on Torbay: the target rose 13.9 %, no change significant, yet the box
    # said "Crimes prevented overall +24.8 crimes".
    main, main_html, notes, reading = _panel(Counts(137, 300, 400), Counts(156, 330, 520))
    assert reading.startswith("no significant change")
    assert "no crimes saved are claimed" in notes
    assert "prevented" not in main
    assert "none claimed: the change in the target area is not significant" in main
    assert "No clear change in the target area" in main
    # The displacement score is not read, said in words with the figure labelled.
    assert "not worked out" in main and "the formula gives" in main
    # No bare decimals: the ratios behind the measures are labelled.
    assert "crimes per control-area crime before" in main
    assert not re.search(r"<td>[+−-]?[\d,.]+( \(|</td>)", main_html), main_html


def test_crimes_saved_are_said_with_their_significance_when_the_target_fell() -> None:
    main, _, notes, reading = _panel(Counts(200, 300, 400), Counts(100, 300, 400))
    assert reading.startswith("success")
    assert "about 100 fewer crimes than the control area's trend predicts" in main
    assert "significant at 95 %" in main
    assert "+0.00: crime did not clearly move into the buffer ring" in main
    assert "about 100 crimes fewer than expected" in notes


def test_a_target_that_rose_significantly_saves_nothing() -> None:
    main, _, _, reading = _panel(Counts(100, 300, 400), Counts(250, 300, 400))
    assert reading.startswith("no success")
    assert "none: crime in the target area rose" in main and "fewer crimes" not in main
