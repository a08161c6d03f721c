"""People's names: first name(s) and last name(s) kept apart, and the greeting name.

Splitting a full name ("nombre completo") when a list has only one name column:
- one word: the first name;
- two words: first name and last name ("Ana López");
- three or more words: Spanish names end with two surnames (paterno and materno), so the
  last two words are the last name ("María Fernanda Peña López" → "María Fernanda" /
  "Peña López"); English names end with one ("Mary Ann Smith" → "Mary Ann" / "Smith").
  The row's language (else the organization's) decides which;
- particles stay with the surname they introduce ("Juan de la Cruz Pérez" → "Juan" /
  "de la Cruz Pérez"), and at least one word is always left as the first name.
A list that writes "María Fernanda López" (one surname) is split as "María" / "Fernanda
López": there is no way to tell; name the columns "nombre" and "apellidos" to avoid it.

The greeting (`{first_name}` in messages) uses the first given name only: "Hola María",
not "Hola María Fernanda Peña López" (`greeting_name` in Python, `greeting_name_sql` in SQL).
"""

from sqlalchemy import func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

# Lowercase words that belong to the surname after them.
SURNAME_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "san", "santa", "van", "von"})


def _surname_start(words: list[str], end: int) -> int:
    """Index where the surname ending just before `end` starts (its particles included)."""
    start = end - 1
    while start > 1 and words[start - 1].lower() in SURNAME_PARTICLES:
        start -= 1
    return start


def split_full_name(text: str | None, *, language: str = "es") -> tuple[str | None, str | None]:
    """(first name, last name) of a full name written in one cell (see the module rule)."""
    words = (text or "").split()
    if len(words) < 2:
        return (words[0] if words else None), None
    surnames = 2 if language == "es" and len(words) >= 3 else 1
    start = len(words)
    for _ in range(surnames):
        candidate = _surname_start(words, start)
        if candidate < 1:
            break
        start = candidate
    start = max(start, 1)
    return " ".join(words[:start]), " ".join(words[start:])


def greeting_name(first_name: str | None) -> str | None:
    """The name a message greets: the first word of the first name(s), or None."""
    words = (first_name or "").split()
    return words[0] if words else None


class _FirstWord(FunctionElement):
    """The text before the first space of a trimmed string (NULL for NULL or blank)."""

    type = String()
    inherit_cache = True


@compiles(_FirstWord)
def _first_word_sqlite(element, compiler, **kw):
    text = compiler.process(element.clauses, **kw)
    return (
        f"CASE WHEN instr({text} || ' ', ' ') > 1 "
        f"THEN substr({text}, 1, instr({text} || ' ', ' ') - 1) END"
    )


@compiles(_FirstWord, "postgresql")
def _first_word_postgres(element, compiler, **kw):
    return f"NULLIF(split_part({compiler.process(element.clauses, **kw)}, ' ', 1), '')"


def greeting_name_sql(first_name_column):
    """SQL for `greeting_name(column)`: NULL when the first name is NULL or blank."""
    return _FirstWord(func.trim(first_name_column))
