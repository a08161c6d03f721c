"""`flask i18n extract|update|compile` (pybabel with the project's options)."""

import subprocess
import sys

from flask.cli import AppGroup

i18n_cli = AppGroup("i18n", help="Extract, update and compile translation catalogs.")


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True)


@i18n_cli.command("extract")
def i18n_extract():
    """Extract messages into translations/messages.pot."""
    _pybabel(
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "-k",
        "lazy_ngettext:1,2",
        "-k",
        "lazy_pgettext:1c,2",
        "-c",
        "TRANSLATORS:",
        "--no-location",
        "--sort-output",
        "-o",
        "translations/messages.pot",
        ".",
    )


@i18n_cli.command("update")
def i18n_update():
    """Merge messages.pot into every language catalog."""
    _pybabel(
        "update", "-i", "translations/messages.pot", "-d", "translations", "--no-fuzzy-matching"
    )


@i18n_cli.command("compile")
def i18n_compile():
    """Compile the .po catalogs into .mo files."""
    _pybabel("compile", "-d", "translations")
