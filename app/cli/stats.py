"""`flask stats`: check the experiment report's statistics (app/stats) from outside the app.

Options are read as text and checked inside the command, so that bad input gets a message
in the operator's language (click's own type errors are not in our catalogue).
"""

import json
import math
import re

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli.helpers import localized
from app.stats import power, proportions

stats_cli = AppGroup("stats", help="Statistics of the experiment report.")
_COUNTS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
DIGITS = 6


def _counts(text: str, hint: str) -> tuple[int, int]:
    match = _COUNTS.match(text or "")
    if match is None:
        raise click.BadParameter(
            _("Write the counts as EVENTS/N with whole numbers, like 12/80."), param_hint=hint
        )
    events, n = int(match[1]), int(match[2])
    if n == 0:
        raise click.BadParameter(_("N must be greater than zero."), param_hint=hint)
    if events > n:
        raise click.BadParameter(
            _("There cannot be more events (%(events)d) than N (%(n)d).", events=events, n=n),
            param_hint=hint,
        )
    return events, n


def _number(text: str | None) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fraction(text: str, hint: str, message: str) -> float:
    """A number strictly between 0 and 1; otherwise `message` on `hint`."""
    value = _number(text)
    if value is None or not 0 < value < 1:
        raise click.BadParameter(message, param_hint=hint)
    return value


def _level(text: str) -> float:
    return _fraction(
        text, "--level", _("The confidence level is a number between 0 and 1, like 0.95.")
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def _proportion(result: proportions.Proportion) -> dict:
    return {
        "events": result.events,
        "n": result.n,
        "estimate": _round(result.estimate),
        "lower": _round(result.lower),
        "upper": _round(result.upper),
    }


def _echo(record: dict) -> None:
    click.echo(json.dumps(record, ensure_ascii=False))


@stats_cli.command("proportion")
@click.argument("counts", metavar="EVENTS/N")
@click.option("--level", default="0.95", show_default=True, help="Confidence level.")
@localized
def proportion_command(counts, level):
    """Print the share EVENTS/N with its Wilson score interval, as JSON."""
    events, n = _counts(counts, "EVENTS/N")
    result = proportions.wilson(events, n, level=_level(level))
    _echo({**_proportion(result), "level": result.level, "method": result.method})


@stats_cli.command("diff-proportions")
@click.option("--a", "a_counts", required=True, help="Arm A as EVENTS/N, like 30/120.")
@click.option("--b", "b_counts", required=True, help="Arm B as EVENTS/N, like 18/118.")
@click.option("--level", default="0.95", show_default=True, help="Confidence level.")
@localized
def diff_proportions_command(a_counts, b_counts, level):
    """Print p_a − p_b with Newcombe's hybrid score interval and the relative risk p_a / p_b
    with Katz's log interval (null where a zero count leaves none), as JSON."""
    a = _counts(a_counts, "--a")
    b = _counts(b_counts, "--b")
    value = _level(level)
    diff = proportions.difference(*a, *b, level=value)
    ratio = proportions.relative_risk(*a, *b, level=value)
    _echo(
        {
            "a": _proportion(diff.a),
            "b": _proportion(diff.b),
            "difference": {
                "estimate": _round(diff.estimate),
                "lower": _round(diff.lower),
                "upper": _round(diff.upper),
                "method": diff.method,
            },
            "relative_risk": {
                "estimate": _round(ratio.estimate),
                "lower": _round(ratio.lower),
                "upper": _round(ratio.upper),
                "method": ratio.method,
            },
            "level": value,
        }
    )


def _per_arm(text: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", text) or int(text) < 1:
        raise click.BadParameter(
            _("The size of each arm is a whole number of at least 1."), param_hint="--n"
        )
    return int(text)


@stats_cli.command("sample-size")
@click.option("--baseline", required=True, help="Rate in the control arm, like 0.2.")
@click.option("--effect", help="Absolute change to detect, like 0.05 (negative for a drop).")
@click.option(
    "--n",
    "n_text",
    help="Instead of --effect: people per arm; prints the smallest detectable change.",
)
@click.option("--power", "power_text", default="0.8", show_default=True, help="Power.")
@click.option("--alpha", default="0.05", show_default=True, help="Two-sided significance level.")
@localized
def sample_size_command(baseline, effect, n_text, power_text, alpha):
    """Print, as JSON, the people needed per arm to detect an absolute change in a rate
    (two-sided test, pooled variance under H0), or with --n the smallest change that many
    people per arm detect."""
    rate = _fraction(baseline, "--baseline", _("The baseline is a rate between 0 and 1, like 0.2."))
    significance = _fraction(
        alpha, "--alpha", _("The significance level is a number between 0 and 1, like 0.05.")
    )
    wanted = _number(power_text)
    if wanted is None or not 0.5 <= wanted < 1:
        raise click.BadParameter(
            _("The power is a number from 0.5 to below 1, like 0.8."), param_hint="--power"
        )
    if (effect is None) == (n_text is None):
        raise click.UsageError(_("Give exactly one of --effect and --n."))
    record = {"baseline": rate, "alpha": significance, "power": wanted}
    if n_text is not None:
        per_arm = _per_arm(n_text)
        rise = power.minimum_detectable_effect(rate, per_arm, alpha=significance, power=wanted)
        drop = power.minimum_detectable_effect(
            rate, per_arm, alpha=significance, power=wanted, decrease=True
        )
        record |= {
            "per_arm": per_arm,
            "minimum_detectable_rise": _round(rise),
            "minimum_detectable_drop": _round(drop),
        }
    else:
        change = _number(effect)
        if change is None or change == 0 or not 0 < rate + change < 1:
            raise click.BadParameter(
                _(
                    "The effect is a change other than zero that keeps the baseline between "
                    "0 and 1, like 0.05."
                ),
                param_hint="--effect",
            )
        result = power.sample_size(rate, change, alpha=significance, power=wanted)
        record |= {"effect": change, "target": _round(result.target), "per_arm": result.per_arm}
    _echo({**record, "method": power.METHOD})
