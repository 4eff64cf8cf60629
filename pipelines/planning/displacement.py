"""Did an intervention move crime next door? The Weighted Displacement Quotient.

Bowers, K. J. and Johnson, S. D. (2003) "Measuring the geographical displacement and diffusion of
benefit effects of crime prevention activity", Journal of Quantitative Criminology 19(3), 275-301.
With crime counts in the target area A, the buffer around it B and a control area C, before (0)
and after (1) the intervention:

    success measure            SM  = A1/C1 - A0/C0     (negative: the target improved vs control)
    buffer displacement        BDM = B1/C1 - B0/C0     (positive: the buffer worsened vs control)
    WDQ = BDM / SM

Inference. The WDQ itself has no sampling distribution, so each reading rests on odds ratios of
the counts with Woolf's 95 % confidence interval (the effect size of the displacement
meta-analyses, Bowers, Johnson, Guerette, Summers and Poynton 2011, J. Exp. Criminol. 7, 347-374;
Farrington and Welsh 2005):

    target OR = (A0 / A1) / (C0 / C1)   buffer OR = (B0 / B1) / (C0 / C1)
    var(ln OR) = 1/A0 + 1/A1 + 1/C0 + 1/C1 (B for A in the buffer's)   CI = exp(ln OR ± 1.96 sd)

OR > 1: crime fell relative to the control. Counts are taken as Poisson; a zero count gets 0.5
added to all four (Haldane-Anscombe). Over-dispersed counts would widen the interval (Farrington
et al. 2007 inflate the variance by a dispersion factor D), so significance here is a lower bar.

Reading (Bowers and Johnson 2003, Table 1), claimed only where the test supports it:
- the target OR's interval includes 1: "no significant change in the target relative to the
  control": no displacement or diffusion is read, and no crimes saved are claimed;
- the target OR's interval lies below 1 (the target worsened relative to the control): "no
  success in the target": nothing to displace;
- the target improved significantly and the buffer OR's interval includes 1: "success, with no
  significant displacement or diffusion of benefit";
- the target improved and the buffer improved significantly (WDQ > 0): "diffusion of benefit"
  (0 < WDQ <= 1) or "diffusion of benefit greater than the direct effect" (WDQ > 1);
- the target improved and the buffer worsened significantly (WDQ < 0): "displacement, less than
  the direct effect" (-1 <= WDQ < 0) or "displacement greater than the direct effect" (WDQ < -1).
The total net effect, in crimes, is (A0 C1/C0 - A1) + (B0 C1/C0 - B1): positive is crime saved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import special

from pipelines.errors import InputError

CONFIDENCE = 0.95


class DisplacementError(InputError):
    """Counts that cannot give a WDQ (a zero control, a missing period)."""


@dataclass(frozen=True)
class Counts:
    target: float
    buffer: float
    control: float


@dataclass(frozen=True)
class OddsRatio:
    """(place before / after) over (control before / after); above 1: fell relative to it."""

    value: float
    low: float
    high: float
    confidence: float
    zero_corrected: bool  # 0.5 added to every count because one was zero

    @property
    def significant(self) -> bool:
        return self.low > 1 or self.high < 1

    @property
    def direction(self) -> str:
        if not self.significant:
            return "no significant change"
        return "fell" if self.low > 1 else "rose"


def odds_ratio(
    before: float, after: float, control_before: float, control_after: float
) -> OddsRatio:
    """Odds ratio with Woolf's interval (the reference: scipy.stats.contingency.odds_ratio,
    kind="sample", on the table [[before, after], [control_before, control_after]])."""
    counts = [before, after, control_before, control_after]
    corrected = min(counts) == 0
    if corrected:
        counts = [c + 0.5 for c in counts]
    a0, a1, c0, c1 = counts
    value = (a0 * c1) / (a1 * c0)
    # scipy.stats.norm.ppf evaluates exactly ndtri; scipy.stats costs 0.4-0.8 s to import.
    spread = special.ndtri(0.5 + CONFIDENCE / 2) * math.sqrt(sum(1 / c for c in counts))
    log = math.log(value)
    return OddsRatio(value, math.exp(log - spread), math.exp(log + spread), CONFIDENCE, corrected)


@dataclass(frozen=True)
class DisplacementResult:
    success_measure: float
    buffer_displacement_measure: float
    wdq: float | None  # None when the success measure is 0 (the quotient is undefined)
    total_net_effect: float
    reading: str
    before: Counts
    after: Counts
    target_odds_ratio: OddsRatio
    buffer_odds_ratio: OddsRatio

    def to_dict(self) -> dict:
        body = asdict(self)
        for name in ("target_odds_ratio", "buffer_odds_ratio"):
            ratio = getattr(self, name)
            body[name] |= {"significant": ratio.significant, "direction": ratio.direction}
        return body


def weighted_displacement_quotient(before: Counts, after: Counts) -> DisplacementResult:
    """The WDQ, its components and a plain reading (see the module notes for the rules)."""
    for name, counts in (("before", before), ("after", after)):
        if min(counts.target, counts.buffer, counts.control) < 0:
            raise DisplacementError(f"counts {name} must be >= 0")
        if counts.control == 0:
            raise DisplacementError(
                f"the control area has no crime {name} the intervention; choose a larger control "
                "area or a longer period"
            )
    success = after.target / after.control - before.target / before.control
    buffer = after.buffer / after.control - before.buffer / before.control
    wdq = buffer / success if success != 0 else None
    ratio = after.control / before.control
    net = (before.target * ratio - after.target) + (before.buffer * ratio - after.buffer)
    target = odds_ratio(before.target, after.target, before.control, after.control)
    buffer_or = odds_ratio(before.buffer, after.buffer, before.control, after.control)
    return DisplacementResult(
        success_measure=success,
        buffer_displacement_measure=buffer,
        wdq=wdq,
        total_net_effect=net,
        reading=reading(target, buffer_or, wdq),
        before=before,
        after=after,
        target_odds_ratio=target,
        buffer_odds_ratio=buffer_or,
    )


NO_CHANGE = "no significant change in the target relative to the control"
NO_SUCCESS = "no success: the target worsened relative to the control"
NEITHER = "success, with no significant displacement or diffusion of benefit"
DIFFUSION = "diffusion of benefit"
DIFFUSION_GREATER = "diffusion of benefit greater than the direct effect"
DISPLACEMENT = "displacement, less than the direct effect"
DISPLACEMENT_GREATER = "displacement greater than the direct effect"


def reading(target: OddsRatio, buffer: OddsRatio, wdq: float | None) -> str:
    """The Bowers and Johnson (2003) class, where the odds ratios' intervals support one."""
    if not target.significant:
        return NO_CHANGE
    if target.direction == "rose" or wdq is None:
        return NO_SUCCESS
    if not buffer.significant:
        return NEITHER
    if buffer.direction == "fell":  # the buffer improved too: WDQ > 0
        return DIFFUSION_GREATER if wdq > 1 else DIFFUSION
    return DISPLACEMENT_GREATER if wdq < -1 else DISPLACEMENT


def _interval(ratio: OddsRatio) -> str:
    return (
        f"odds ratio {ratio.value:.3f}, {ratio.confidence:.0%} CI {ratio.low:.2f}-{ratio.high:.2f}"
    )


def explain(result: DisplacementResult) -> str:
    """The result in plain words, for a page or a briefing note: nothing the tests do not back."""
    target, buffer = result.target_odds_ratio, result.buffer_odds_ratio
    if result.reading == NO_CHANGE:
        return (
            f"Relative to the control area, crime in the target area did not change "
            f"significantly ({_interval(target)}; an interval including 1 is no evidence of "
            "change), so no displacement or diffusion of benefit is read and no crimes saved "
            "are claimed."
        )
    if result.reading == NO_SUCCESS:
        return (
            f"Relative to the control area, crime in the target area rose ({_interval(target)}), "
            "so there is no reduction that could have been displaced and the WDQ is not read."
        )
    if buffer.significant:
        moved = "fell too" if buffer.direction == "fell" else "rose"
        in_buffer = f"crime in the buffer {moved} ({_interval(buffer)})"
    else:
        in_buffer = f"crime in the buffer did not change significantly ({_interval(buffer)})"
    net = result.total_net_effect
    saved = "fewer" if net >= 0 else "more"
    wdq = "" if result.wdq is None else f"WDQ {result.wdq:+.2f}: "
    return (
        f"Relative to the control area, crime in the target area fell ({_interval(target)}) "
        f"and {in_buffer}. {wdq}{result.reading}. Allowing for the control area's trend, the "
        f"target and buffer together had about {abs(net):,.0f} crimes {saved} than expected "
        f"(total net effect {net:+,.1f})."
    )
