"""`flask conversations classify`: check the message classifier from outside the app."""

import json
import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli.helpers import localized
from app.conversations.classifier import classify

conversations_cli = AppGroup("conversations", help="Conversations with young people.")
LANGUAGES = ("es", "en")


@conversations_cli.command("classify")
@click.option("--lang", "language", help="Language of the messages: es or en (default: both).")
@localized
def classify_command(language):
    """Classify messages read from stdin, one per line; print one JSON object per line.

    Each object has the message's `text`, its `intent` (crisis, needs_help, question, other),
    the case `priority` (urgent, normal or null) and the lexicon terms it `matched`.
    """
    if language is not None and language not in LANGUAGES:
        raise click.BadParameter(_("Unknown language (use es or en)."), param_hint="--lang")
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        result = classify(text, language)
        record = {
            "text": text,
            "intent": result.intent,
            "priority": result.priority,
            "matched": list(result.matched),
        }
        click.echo(json.dumps(record, ensure_ascii=False))
