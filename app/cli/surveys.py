"""`flask surveys parse`: check the survey answer parser from outside the app."""

import json
import re
import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli.helpers import localized
from app.surveys.answers import QTYPES, SCALES, parse_answer

surveys_cli = AppGroup("surveys", help="SMS surveys.")
LANGUAGES = ("es", "en")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def _options(qtype: str, text: str | None) -> list[str] | None:
    if text is None:
        if qtype == "choice":
            raise click.BadParameter(
                _("A choice question needs its options, separated by commas."),
                param_hint="--options",
            )
        return None
    if qtype not in ("choice", "scale"):
        raise click.BadParameter(
            _("Only choice and scale questions take options."), param_hint="--options"
        )
    options = [option.strip() for option in text.split(",") if option.strip()]
    if len(options) < 2:
        raise click.BadParameter(
            _("Give at least two options, separated by commas."), param_hint="--options"
        )
    return options


def _range(qtype: str, text: str | None) -> tuple[int, int] | None:
    if text is None:
        if qtype == "scale":
            raise click.BadParameter(
                _("A scale question needs its range: 1-4, 1-5 or 0-10."), param_hint="--range"
            )
        return None
    if qtype not in ("scale", "number"):
        raise click.BadParameter(
            _("Only scale and number questions take a range."), param_hint="--range"
        )
    match = _RANGE.match(text)
    bounds = (int(match[1]), int(match[2])) if match else None
    if bounds is None or bounds[0] >= bounds[1]:
        raise click.BadParameter(
            _("Write the range as two whole numbers, the smaller first, like 1-5."),
            param_hint="--range",
        )
    if qtype == "scale" and bounds not in SCALES:
        raise click.BadParameter(
            _("A scale goes from 1 to 4, 1 to 5 or 0 to 10."), param_hint="--range"
        )
    return bounds


def _check_scale_labels(options: list[str] | None, bounds: tuple[int, int] | None) -> None:
    if options and bounds and len(options) not in (2, bounds[1] - bounds[0] + 1):
        raise click.BadParameter(
            _(
                "A scale's options label its two ends or each of its %(points)d points.",
                points=bounds[1] - bounds[0] + 1,
            ),
            param_hint="--options",
        )


def _record(text: str, parsed) -> dict:
    record = {"text": text, "value": parsed.value, "valid": parsed.valid}
    if parsed.skip:
        record["skip"] = True
    return record


@surveys_cli.command("parse")
@click.option("--type", "qtype", help="Question type: choice, scale, yesno, number or text.")
@click.option("--options", help='Options, separated by commas: "Nada,Poco,Algo,Mucho".')
@click.option("--range", "range_", help="Range of a scale (1-4, 1-5, 0-10) or a number (10-29).")
@click.option("--lang", "language", help="Language of the replies: es or en (default: both).")
@localized
def parse_command(qtype, options, range_, language):
    """Parse survey replies read from stdin, one per line; print one JSON object per line.

    Each object has the reply's `text`, its parsed `value` (the option's number for a choice,
    a number, true or false, or the text) and whether it is `valid`; `skip` is true when the
    young person skipped the question (SALTAR, SKIP).
    """
    if qtype not in QTYPES:
        raise click.BadParameter(
            _("Unknown question type (use choice, scale, yesno, number or text)."),
            param_hint="--type",
        )
    if language is not None and language not in LANGUAGES:
        raise click.BadParameter(_("Unknown language (use es or en)."), param_hint="--lang")
    labels = _options(qtype, options)
    bounds = _range(qtype, range_)
    _check_scale_labels(labels if qtype == "scale" else None, bounds)
    setup = {"scale": bounds} if qtype == "scale" else {"number_range": bounds}
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        parsed = parse_answer(text, qtype, options=labels, language=language, **setup)
        click.echo(json.dumps(_record(text, parsed), ensure_ascii=False))
