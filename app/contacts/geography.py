"""States of Mexico and the US, free-text state resolution and time zone derivation.

Pure data and functions (no database): imports, forms and services use them to store a
canonical state code and the contact's IANA time zone, which quiet hours depend on.
Zones follow Mexico's Ley de los Husos Horarios (2022) and the IANA database.
"""

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class State:
    country: str  # "MX" or "US"
    code: str  # INEGI two-digit code for MX, USPS code for US
    name: str
    timezone: str  # default IANA zone for the state


def _mx(code: str, name: str, timezone: str = "America/Mexico_City") -> State:
    return State("MX", code, name, timezone)


def _us(code: str, name: str, timezone: str) -> State:
    return State("US", code, name, timezone)


MX_STATES: dict[str, State] = {
    s.code: s
    for s in (
        _mx("01", "Aguascalientes"),
        _mx("02", "Baja California", "America/Tijuana"),
        _mx("03", "Baja California Sur", "America/Mazatlan"),
        _mx("04", "Campeche", "America/Merida"),
        _mx("05", "Coahuila de Zaragoza", "America/Monterrey"),
        _mx("06", "Colima"),
        _mx("07", "Chiapas"),
        _mx("08", "Chihuahua", "America/Chihuahua"),
        _mx("09", "Ciudad de México"),
        _mx("10", "Durango"),
        _mx("11", "Guanajuato"),
        _mx("12", "Guerrero"),
        _mx("13", "Hidalgo"),
        _mx("14", "Jalisco"),
        _mx("15", "México"),
        _mx("16", "Michoacán de Ocampo"),
        _mx("17", "Morelos"),
        _mx("18", "Nayarit", "America/Mazatlan"),
        _mx("19", "Nuevo León", "America/Monterrey"),
        _mx("20", "Oaxaca"),
        _mx("21", "Puebla"),
        _mx("22", "Querétaro"),
        _mx("23", "Quintana Roo", "America/Cancun"),
        _mx("24", "San Luis Potosí"),
        _mx("25", "Sinaloa", "America/Mazatlan"),
        _mx("26", "Sonora", "America/Hermosillo"),
        _mx("27", "Tabasco"),
        _mx("28", "Tamaulipas", "America/Monterrey"),
        _mx("29", "Tlaxcala"),
        _mx("30", "Veracruz de Ignacio de la Llave"),
        _mx("31", "Yucatán", "America/Merida"),
        _mx("32", "Zacatecas"),
    )
}

_E, _C, _M, _P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

# The zone most of each state's population lives in; split states other than
# Texas (e.g. the Florida panhandle) are not refined yet.
US_STATES: dict[str, State] = {
    s.code: s
    for s in (
        _us("AL", "Alabama", _C),
        _us("AK", "Alaska", "America/Anchorage"),
        _us("AZ", "Arizona", "America/Phoenix"),
        _us("AR", "Arkansas", _C),
        _us("CA", "California", _P),
        _us("CO", "Colorado", _M),
        _us("CT", "Connecticut", _E),
        _us("DE", "Delaware", _E),
        _us("DC", "District of Columbia", _E),
        _us("FL", "Florida", _E),
        _us("GA", "Georgia", _E),
        _us("HI", "Hawaii", "Pacific/Honolulu"),
        _us("ID", "Idaho", "America/Boise"),
        _us("IL", "Illinois", _C),
        _us("IN", "Indiana", "America/Indiana/Indianapolis"),
        _us("IA", "Iowa", _C),
        _us("KS", "Kansas", _C),
        _us("KY", "Kentucky", _E),
        _us("LA", "Louisiana", _C),
        _us("ME", "Maine", _E),
        _us("MD", "Maryland", _E),
        _us("MA", "Massachusetts", _E),
        _us("MI", "Michigan", "America/Detroit"),
        _us("MN", "Minnesota", _C),
        _us("MS", "Mississippi", _C),
        _us("MO", "Missouri", _C),
        _us("MT", "Montana", _M),
        _us("NE", "Nebraska", _C),
        _us("NV", "Nevada", _P),
        _us("NH", "New Hampshire", _E),
        _us("NJ", "New Jersey", _E),
        _us("NM", "New Mexico", _M),
        _us("NY", "New York", _E),
        _us("NC", "North Carolina", _E),
        _us("ND", "North Dakota", _C),
        _us("OH", "Ohio", _E),
        _us("OK", "Oklahoma", _C),
        _us("OR", "Oregon", _P),
        _us("PA", "Pennsylvania", _E),
        _us("RI", "Rhode Island", _E),
        _us("SC", "South Carolina", _E),
        _us("SD", "South Dakota", _C),
        _us("TN", "Tennessee", _C),
        _us("TX", "Texas", _C),
        _us("UT", "Utah", _M),
        _us("VT", "Vermont", _E),
        _us("VA", "Virginia", _E),
        _us("WA", "Washington", _P),
        _us("WV", "West Virginia", _E),
        _us("WI", "Wisconsin", _C),
        _us("WY", "Wyoming", _M),
        _us("PR", "Puerto Rico", "America/Puerto_Rico"),
    )
}

_STATES = {"MX": MX_STATES, "US": US_STATES}
_FALLBACK_ZONE = {"MX": "America/Mexico_City", "US": "America/New_York"}

# Extra spellings seen in lists: short forms, postal/press abbreviations, ISO 3166-2
# codes, and Spanish/English exonyms. Official names and codes are indexed anyway.
# Ambiguous two-letter CURP codes (CH, CL, CM...) are deliberately left out.
_MX_ALIASES = {
    "01": ["Ags", "AGU"],
    "02": ["BC", "BCN", "Baja California Norte"],
    "03": ["BCS"],
    "04": ["Camp", "CAM"],
    "05": ["Coahuila", "Coah", "COA"],
    "06": ["Col"],
    "07": ["Chis", "CHP"],
    "08": ["Chih", "CHH"],
    "09": [
        "CDMX",
        "CMX",
        "DF",
        "DIF",
        "Distrito Federal",
        "Ciudad de Mexico",
        "Cd. de México",
        "México DF",
        "Mexico City",
    ],
    "10": ["Dgo", "DUR"],
    "11": ["Gto", "GUA"],
    "12": ["Gro"],
    "13": ["Hgo", "HID"],
    "14": ["Jal"],
    "15": [
        "Edomex",
        "Edo. Mex.",
        "Edo. de México",
        "Estado de México",
        "Méx",
        "MEX",
        "State of Mexico",
        "Mexico State",
    ],
    "16": ["Michoacán", "Mich", "MIC"],
    "17": ["Mor"],
    "18": ["Nay"],
    "19": ["NL", "NLE"],
    "20": ["Oax"],
    "21": ["Pue"],
    "22": ["Qro", "QUE", "Querétaro de Arteaga"],
    "23": ["QRoo", "Q. Roo", "ROO"],
    "24": ["SLP"],
    "25": ["Sin"],
    "26": ["Son"],
    "27": ["Tab"],
    "28": ["Tamps", "Tamp", "TAM"],
    "29": ["Tlax", "TLA"],
    "30": ["Veracruz", "Ver", "Veracruz Llave"],
    "31": ["Yuc"],
    "32": ["Zac"],
}

_US_ALIASES = {
    "AL": ["Ala"],
    "AZ": ["Ariz"],
    "AR": ["Ark"],
    "CA": ["Calif"],
    "CO": ["Colo"],
    "CT": ["Conn"],
    "DE": ["Del"],
    "FL": ["Fla"],
    "GA": ["Ga"],
    "DC": ["Washington DC", "Washington D.C.", "Distrito de Columbia"],
    "HI": ["Hawái"],
    "IL": ["Ill"],
    "IN": ["Ind"],
    "KS": ["Kan", "Kans"],
    "KY": ["Ky"],
    "LA": ["Luisiana"],
    "MD": ["Md"],
    "MA": ["Mass"],
    "MI": ["Mich", "Míchigan"],
    "MN": ["Minn"],
    "MS": ["Miss", "Misisipi"],
    "MO": ["Mo", "Misuri"],
    "MT": ["Mont"],
    "NE": ["Neb", "Nebr"],
    "NV": ["Nev"],
    "NH": ["N.H.", "Nuevo Hampshire"],
    "NJ": ["N.J.", "Nueva Jersey"],
    "NM": ["N.M.", "N. Mex.", "Nuevo México"],
    "NY": ["N.Y.", "Nueva York"],
    "NC": ["N.C.", "Carolina del Norte"],
    "ND": ["N.D.", "Dakota del Norte"],
    "OK": ["Okla"],
    "OR": ["Ore", "Oreg", "Oregón"],
    "PA": ["Pa", "Penn", "Pensilvania"],
    "RI": ["R.I."],
    "SC": ["S.C.", "Carolina del Sur"],
    "SD": ["S.D.", "Dakota del Sur"],
    "TN": ["Tenn"],
    "TX": ["Tex", "Tejas"],
    "VT": ["Vt"],
    "VA": ["Va"],
    "WA": ["Wash"],
    "WV": ["W.Va.", "Virginia Occidental"],
    "WI": ["Wis", "Wisc"],
    "WY": ["Wyo"],
}

# Municipalities (and a few well-known localities) whose zone differs from their
# state's default, per the 2022 law: border strips follow US daylight saving time.
_MX_MUNICIPAL_ZONES = {
    "08": {
        "America/Ciudad_Juarez": [
            "Juárez",
            "Ascensión",
            "Janos",
            "Guadalupe",
            "Guadalupe Distrito Bravo",
            "Guadalupe D.B.",
            "Práxedis G. Guerrero",
            "Práxedis Guerrero",
            "Práxedis Gilberto Guerrero",
        ],
        "America/Ojinaga": ["Ojinaga", "Manuel Benavides", "Coyame del Sotol", "Coyame"],
    },
    "05": {
        "America/Matamoros": [
            "Acuña",
            "Allende",
            "Guerrero",
            "Hidalgo",
            "Jiménez",
            "Morelos",
            "Nava",
            "Ocampo",
            "Piedras Negras",
            "Villa Unión",
            "Zaragoza",
        ],
    },
    "19": {"America/Matamoros": ["Anáhuac"]},
    "28": {
        "America/Matamoros": [
            "Nuevo Laredo",
            "Reynosa",
            "Matamoros",
            "Río Bravo",
            "Valle Hermoso",
            "Camargo",
            "Miguel Alemán",
            "Guerrero",
            "Mier",
            "Gustavo Díaz Ordaz",
        ],
    },
    "18": {
        "America/Bahia_Banderas": [
            "Bahía de Banderas",
            "Valle de Banderas",
            "Nuevo Vallarta",
            "Bucerías",
            "Sayulita",
            "Punta de Mita",
        ],
    },
}

# El Paso and Hudspeth counties (and their towns) keep Mountain time.
_US_MUNICIPAL_ZONES = {
    "TX": {
        "America/Denver": [
            "El Paso",
            "Hudspeth",
            "Socorro",
            "Horizon City",
            "San Elizario",
            "Anthony",
            "Clint",
            "Vinton",
            "Fabens",
            "Canutillo",
            "Sierra Blanca",
            "Dell City",
            "Fort Hancock",
            "Fort Bliss",
        ],
    },
}

# Prefixes that do not change which municipality is meant:
# "Cd. Juárez", "Heroica Matamoros", "Nueva Ciudad Guerrero", "El Paso County".
_MUNICIPALITY_PREFIX = re.compile(r"^(?:(?:heroica|h|nueva ciudad|ciudad|cd|condado de)\s+)+")
_MUNICIPALITY_SUFFIX = re.compile(r"\s+(?:county|co)$")


def _normalize(text: str) -> str:
    """Lowercase, drop accents and punctuation, collapse spaces: "Nuevo  León." -> "nuevo leon"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def _key(text: str) -> str:
    # Spaces removed too, so "N L", "Edo Mex" and "Q. Roo" match "nl", "edomex", "qroo".
    return _normalize(text).replace(" ", "")


def _build_alias_index(states: dict[str, State], aliases: dict[str, list[str]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for code, state in states.items():
        for alias in (code, state.name, *aliases.get(code, ())):
            key = _key(alias)
            if index.setdefault(key, code) != code:
                raise ValueError(f"state alias {alias!r} is ambiguous")
    return index


def _build_municipal_index(zones: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, str]]:
    return {
        state: {_municipality_key(name): zone for zone, names in by_zone.items() for name in names}
        for state, by_zone in zones.items()
    }


def _municipality_key(text: str) -> str:
    # "Juárez, Chih." names its state after a comma; only the part before it matters.
    name = _normalize(text.split(",")[0])
    name = _MUNICIPALITY_SUFFIX.sub("", _MUNICIPALITY_PREFIX.sub("", name))
    return name.replace(" ", "")


_ALIASES = {
    "MX": _build_alias_index(MX_STATES, _MX_ALIASES),
    "US": _build_alias_index(US_STATES, _US_ALIASES),
}
_MUNICIPAL = {
    "MX": _build_municipal_index(_MX_MUNICIPAL_ZONES),
    "US": _build_municipal_index(_US_MUNICIPAL_ZONES),
}
_STATE_PREFIX = re.compile(r"^(?:mx|us|estado de|edo de|estado|state of)\s+")


def _country(country: str) -> str:
    key = (country or "").strip().upper()
    if key not in _STATES:
        raise ValueError(f"unsupported country {country!r}")
    return key


def resolve_state(country: str, text: str) -> str | None:
    """The canonical state code for free text ("nuevo  león", "Edo. Mex.", "2", "MX-JAL").

    Returns None when the text names no known state of that country.
    """
    country = _country(country)
    name = _normalize(text or "")
    if not name:
        return None
    if country == "MX" and name.isdigit():  # INEGI number, with or without leading zero
        code = f"{int(name):02d}"
        return code if code in MX_STATES else None
    index = _ALIASES[country]
    code = index.get(name.replace(" ", ""))
    if code is None:  # "Estado de Jalisco", "MX-JAL", "state of Texas"
        code = index.get(_STATE_PREFIX.sub("", name).replace(" ", ""))
    return code


def state_name(country: str, code: str | None) -> str:
    """The state's official name; unknown codes are shown as given so pages never break."""
    if not code:
        return ""
    state = _STATES[_country(country)].get(code)
    return state.name if state else code


def derive_timezone(country: str, state_code: str | None, municipality: str | None = None) -> str:
    """The contact's IANA zone from state and, for split states, municipality.

    `state_code` should be canonical; free text is resolved as a convenience. Unknown
    states fall back to the country's most populous zone.
    """
    country = _country(country)
    states = _STATES[country]
    code = state_code if state_code in states else resolve_state(country, state_code or "")
    if code is None:
        return _FALLBACK_ZONE[country]
    if municipality:
        zone = _MUNICIPAL[country].get(code, {}).get(_municipality_key(municipality))
        if zone:
            return zone
    return states[code].timezone


def STATE_CHOICES(country: str) -> list[tuple[str, str]]:  # noqa: N802 (reads like a constant)
    """[(code, name)] sorted by name, ignoring accents, for select fields."""
    states = _STATES[_country(country)].values()
    return [(s.code, s.name) for s in sorted(states, key=lambda s: _normalize(s.name))]
