"""Report test helpers shared by the modules of this folder: the period of the hand-built
dataset (conftest.py), the names that must never be shown, and page readers."""

import re
from datetime import date

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
# The report form's query string for that month, by day.
MARCH_ARGS = {"from": "2026-03-01", "to": "2026-03-31", "granularity": "day"}
# Names and phones that must never appear in an evaluator's page or export.
NAMES = [
    "Xochiquetzal",
    "Itzayana",
    "Ximena-Zuleyma",
    "Quetzalli",
    "Yatziri",
    "Zoemi",
    "Tlacaelel",
    "Cuauhtli",
    "Maximiliana",
    "Anahuacalli",
]


def page(client, url, **args):
    response = client.get(url, query_string=args)
    return response, response.get_data(as_text=True)


def cells(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table whose caption starts with `caption`, as cell texts."""
    match = re.search(
        r'<caption>(?:<span class="visually-hidden">)?'  # the title may be visually hidden
        + re.escape(caption)
        + r".*?</caption>(.*?)</table>",
        html,
        re.S,
    )
    assert match, caption
    body = re.search(r"<tbody>(.*?)</tbody>", match.group(1), re.S).group(1)
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
