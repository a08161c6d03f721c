"""SQL of the name search: the folded full name ("first last", lowercase, no accents), the
SQL twin of `validation.fold` for names.

On PostgreSQL a trigram index (pg_trgm, `models.Contact`) covers this very expression, so a
name that few contacts have is found without reading the whole organization (measured at
100,000 contacts: a name nobody has took 308 ms as a scan). For the planner to use it, a
query's expression must be the index's, constants included: they are written into the SQL as
literals, never sent as parameters.
"""

from sqlalchemy import String, func, literal

ACCENTED = "áàäâãéèëêíìïîóòöôõúùüûñçÁÀÄÂÃÉÈËÊÍÌÏÎÓÒÖÔÕÚÙÜÛÑÇ"
PLAIN = "aaaaaeeeeiiiiooooouuuuncaaaaaeeeeiiiiooooouuuunc"
# SQLite's parser refuses deeply nested calls, so it folds Spanish's accents only.
SQLITE_FOLDS = tuple(zip("áéíóúüñÁÉÍÓÚÜÑ", "aeiouunaeiouun", strict=True))


def _inline(value: str):
    """A string constant rendered into the statement (a literal, not a parameter)."""
    return literal(value, String(), literal_execute=True)


def fold_postgres(column):
    """lower() then translate() of the accented letters (PostgreSQL)."""
    return func.translate(func.lower(column), _inline(ACCENTED), _inline(PLAIN))


def fold_sqlite(column):
    """Nested replace() of Spanish's accented letters, then lower() (which only knows ASCII
    on SQLite, hence the upper-case accented letters mapped too)."""
    expr = column
    for accented, plain in SQLITE_FOLDS:
        expr = func.replace(expr, accented, plain)
    return func.lower(expr)


def full_name_expr(first_name, last_name):
    """ "first last" (a missing part is blank), as `Contact.full_name` writes it."""
    blank = _inline("")
    return func.coalesce(first_name, blank) + _inline(" ") + func.coalesce(last_name, blank)
