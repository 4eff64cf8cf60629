"""Did an intervention move crime next door? The Weighted Displacement Quotient.

Bowers, K. J. and Johnson, S. D. (2003) "Measuring the geographical displacement and diffusion of
benefit effects of crime prevention activity", Journal of Quantitative Criminology 19(3), 275-301.
With crime counts in the target area A, the buffer around it B and a control area C, before (0)
and after (1) the intervention:

    success measure            SM  = A1/C1 - A0/C0     (negative: the target improved vs control)
    buffer displacement        BDM = B1/C1 - B0/C0     (positive: the buffer worsened vs control)
    WDQ = BDM / SM

Reading, when SM < 0 (the intervention worked): WDQ > 0 is a diffusion of benefit into the
buffer, WDQ < 0 is displacement (and WDQ < -1 means the buffer lost more than the target
gained); WDQ near 0 (|WDQ| < 0.05 here) is neither. When SM >= 0 the target did not improve
relative to the control, so there is no measurable effect to displace and the WDQ is not read.
The total net effect, in crimes, is (A0 C1/C0 - A1) + (B0 C1/C0 - B1): positive is crime saved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipelines.errors import InputError

NEAR_ZERO = 0.05  # |WDQ| below this reads as "no displacement or diffusion"


class DisplacementError(InputError):
    """Counts that cannot give a WDQ (a zero control, a missing period)."""


@dataclass(frozen=True)
class Counts:
    target: float
    buffer: float
    control: float


@dataclass(frozen=True)
class DisplacementResult:
    success_measure: float
    buffer_displacement_measure: float
    wdq: float | None  # None when the success measure is 0 (the quotient is undefined)
    total_net_effect: float
    reading: str
    before: Counts
    after: Counts

    def to_dict(self) -> dict:
        return asdict(self)


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
    return DisplacementResult(
        success_measure=success,
        buffer_displacement_measure=buffer,
        wdq=wdq,
        total_net_effect=net,
        reading=_reading(success, wdq),
        before=before,
        after=after,
    )


def _reading(success: float, wdq: float | None) -> str:
    if success >= 0 or wdq is None:
        return "no measurable effect"
    if abs(wdq) < NEAR_ZERO:
        return "success, with no displacement or diffusion of benefit"
    if wdq > 0:
        return "diffusion of benefit"
    if wdq < -1:
        return "displacement greater than the reduction in the target area"
    return "displacement"


def explain(result: DisplacementResult) -> str:
    """The result in plain words, for a page or a briefing note."""
    success = result.success_measure
    if success >= 0 or result.wdq is None:
        return (
            f"Relative to the control area, crime in the target area did not fall (success "
            f"measure {success:+.4f}), so there is no reduction that could have been displaced "
            "and the WDQ is not read."
        )
    bdm = result.buffer_displacement_measure
    if bdm < 0:
        buffer = f"crime in the buffer fell too (buffer displacement measure {bdm:+.4f})"
    elif bdm > 0:
        buffer = f"crime in the buffer rose (buffer displacement measure {bdm:+.4f})"
    else:
        buffer = "crime in the buffer did not change (buffer displacement measure 0)"
    net = result.total_net_effect
    saved = "fewer" if net >= 0 else "more"
    return (
        f"Relative to the control area, crime in the target area fell (success measure "
        f"{success:+.4f}) and {buffer}. WDQ {result.wdq:+.2f}: {result.reading}. Allowing for the "
        f"control area's trend, the target and buffer together had about {abs(net):,.0f} "
        f"crimes {saved} than expected (total net effect {net:+,.1f})."
    )
