"""States, free-text state resolution and time zone derivation (pure functions)."""

from zoneinfo import available_timezones

import pytest

from app.contacts.geography import (
    _MX_MUNICIPAL_ZONES,
    _US_MUNICIPAL_ZONES,
    MX_STATES,
    STATE_CHOICES,
    US_STATES,
    derive_timezone,
    resolve_state,
    state_name,
)

INEGI = {
    "01": "Aguascalientes",
    "02": "Baja California",
    "03": "Baja California Sur",
    "04": "Campeche",
    "05": "Coahuila de Zaragoza",
    "06": "Colima",
    "07": "Chiapas",
    "08": "Chihuahua",
    "09": "Ciudad de México",
    "10": "Durango",
    "11": "Guanajuato",
    "12": "Guerrero",
    "13": "Hidalgo",
    "14": "Jalisco",
    "15": "México",
    "16": "Michoacán de Ocampo",
    "17": "Morelos",
    "18": "Nayarit",
    "19": "Nuevo León",
    "20": "Oaxaca",
    "21": "Puebla",
    "22": "Querétaro",
    "23": "Quintana Roo",
    "24": "San Luis Potosí",
    "25": "Sinaloa",
    "26": "Sonora",
    "27": "Tabasco",
    "28": "Tamaulipas",
    "29": "Tlaxcala",
    "30": "Veracruz de Ignacio de la Llave",
    "31": "Yucatán",
    "32": "Zacatecas",
}


def test_all_32_inegi_codes_with_official_names():
    assert {code: s.name for code, s in MX_STATES.items()} == INEGI
    assert all(s.country == "MX" and s.code == code for code, s in MX_STATES.items())


def test_us_has_50_states_dc_and_puerto_rico():
    assert len(US_STATES) == 52
    assert {"DC", "PR", "CA", "TX", "AK", "HI"} <= set(US_STATES)
    assert all(s.country == "US" and len(s.code) == 2 for s in US_STATES.values())


def test_every_zone_exists_in_the_iana_database():
    zones = {s.timezone for s in (*MX_STATES.values(), *US_STATES.values())}
    for table in (_MX_MUNICIPAL_ZONES, _US_MUNICIPAL_ZONES):
        zones |= {zone for by_zone in table.values() for zone in by_zone}
    assert zones <= available_timezones()


@pytest.mark.parametrize(
    "code, zone",
    [
        ("02", "America/Tijuana"),
        ("03", "America/Mazatlan"),
        ("25", "America/Mazatlan"),
        ("18", "America/Mazatlan"),
        ("26", "America/Hermosillo"),
        ("08", "America/Chihuahua"),
        ("05", "America/Monterrey"),
        ("19", "America/Monterrey"),
        ("28", "America/Monterrey"),
        ("04", "America/Merida"),
        ("31", "America/Merida"),
        ("23", "America/Cancun"),
        ("09", "America/Mexico_City"),
        ("14", "America/Mexico_City"),
    ],
)
def test_mx_state_default_zones(code, zone):
    assert MX_STATES[code].timezone == zone


@pytest.mark.parametrize(
    "text, code",
    [
        ("02", "02"),
        ("2", "02"),
        ("9", "09"),
        ("32", "32"),
        (" 15 ", "15"),
        ("BC", "02"),
        ("B.C.", "02"),
        ("BCS", "03"),
        ("b.c.s.", "03"),
        ("CDMX", "09"),
        ("cd mx", "09"),
        ("DF", "09"),
        ("D.F.", "09"),
        ("Distrito Federal", "09"),
        ("Ciudad de Mexico", "09"),
        ("ciudad de méxico", "09"),
        ("Mexico City", "09"),
        ("Edomex", "15"),
        ("Edo. Mex.", "15"),
        ("Estado de México", "15"),
        ("estado de mexico", "15"),
        ("México", "15"),
        ("MEX", "15"),
        ("NL", "19"),
        ("N.L.", "19"),
        ("Nuevo Leon", "19"),
        ("nuevo  león", "19"),
        ("NUEVO LEÓN", "19"),
        ("QRoo", "23"),
        ("Q. Roo", "23"),
        ("quintana roo", "23"),
        ("SLP", "24"),
        ("S.L.P.", "24"),
        ("San Luis Potosi", "24"),
        ("CHIH", "08"),
        ("Chih.", "08"),
        ("SON", "26"),
        ("TAMPS", "28"),
        ("Tamps.", "28"),
        ("COAH", "05"),
        ("Coahuila", "05"),
        ("Coahuila de Zaragoza", "05"),
        ("JAL", "14"),
        ("Jal.", "14"),
        ("Jalisco", "14"),
        ("Estado de Jalisco", "14"),
        ("Michoacan", "16"),
        ("Michoacán de Ocampo", "16"),
        ("Mich.", "16"),
        ("Veracruz", "30"),
        ("veracruz de ignacio de la llave", "30"),
        ("Ver.", "30"),
        ("Queretaro", "22"),
        ("Qro.", "22"),
        ("Yucatan", "31"),
        ("Gto.", "11"),
        ("MX-JAL", "14"),
        ("MX-BCN", "02"),
        ("mx-cmx", "09"),
    ],
)
def test_resolve_mx_state(text, code):
    assert resolve_state("MX", text) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0",
        "33",
        "99",
        "Texas",
        "Atlantis",
        "Baja",
        "Nuevo",
        "CA",
        "B",
    ],
)
def test_unknown_mx_state(text):
    assert resolve_state("MX", text) is None


@pytest.mark.parametrize(
    "text, code",
    [
        ("CA", "CA"),
        ("ca", "CA"),
        ("California", "CA"),
        ("new mexico", "NM"),
        ("N.M.", "NM"),
        ("Nuevo México", "NM"),
        ("TX", "TX"),
        ("Texas", "TX"),
        ("Tex.", "TX"),
        ("Washington", "WA"),
        ("Washington, D.C.", "DC"),
        ("District of Columbia", "DC"),
        ("Puerto Rico", "PR"),
        ("Carolina del Norte", "NC"),
        ("US-AZ", "AZ"),
        ("arizona", "AZ"),
    ],
)
def test_resolve_us_state(text, code):
    assert resolve_state("us", text) == code


@pytest.mark.parametrize("text", ["", "02", "Jalisco", "Nowhere", "XX"])
def test_unknown_us_state(text):
    assert resolve_state("US", text) is None


def test_unsupported_country_is_a_programming_error():
    with pytest.raises(ValueError):
        resolve_state("CA", "Ontario")


def test_state_name():
    assert state_name("MX", "16") == "Michoacán de Ocampo"
    assert state_name("US", "NM") == "New Mexico"
    assert state_name("MX", None) == ""
    assert state_name("MX", "99") == "99"


def test_state_choices_sorted_by_name_ignoring_accents():
    choices = STATE_CHOICES("MX")
    assert len(choices) == 32
    names = [name for _, name in choices]
    assert names.index("México") < names.index("Michoacán de Ocampo") < names.index("Morelos")
    assert names.index("Querétaro") < names.index("Quintana Roo")
    assert ("09", "Ciudad de México") in choices
    assert STATE_CHOICES("US")[0] == ("AL", "Alabama")


@pytest.mark.parametrize(
    "country, state, municipality, zone",
    [
        ("MX", "02", "Tijuana", "America/Tijuana"),
        ("MX", "02", "Mexicali", "America/Tijuana"),
        ("MX", "02", None, "America/Tijuana"),
        ("MX", "08", "Juárez", "America/Ciudad_Juarez"),
        ("MX", "08", "Ciudad Juárez", "America/Ciudad_Juarez"),
        ("MX", "08", "Cd. Juarez", "America/Ciudad_Juarez"),
        ("MX", "08", "Juárez, Chih.", "America/Ciudad_Juarez"),
        ("MX", "08", "Ascensión", "America/Ciudad_Juarez"),
        ("MX", "08", "Práxedis G. Guerrero", "America/Ciudad_Juarez"),
        ("MX", "08", "Ojinaga", "America/Ojinaga"),
        ("MX", "08", "Manuel Benavides", "America/Ojinaga"),
        ("MX", "08", "Coyame del Sotol", "America/Ojinaga"),
        ("MX", "08", "Chihuahua", "America/Chihuahua"),
        ("MX", "08", "Guerrero", "America/Chihuahua"),  # Chihuahua's Guerrero is inland
        ("MX", "08", "Guadalupe y Calvo", "America/Chihuahua"),
        ("MX", "28", "Matamoros", "America/Matamoros"),
        ("MX", "28", "Heroica Matamoros", "America/Matamoros"),
        ("MX", "28", "Reynosa", "America/Matamoros"),
        ("MX", "28", "Nuevo Laredo", "America/Matamoros"),
        ("MX", "28", "Río Bravo", "America/Matamoros"),
        ("MX", "28", "Nueva Ciudad Guerrero", "America/Matamoros"),
        ("MX", "28", "Ciudad Victoria", "America/Monterrey"),
        ("MX", "28", "Tampico", "America/Monterrey"),
        ("MX", "05", "Piedras Negras", "America/Matamoros"),
        ("MX", "05", "Ciudad Acuña", "America/Matamoros"),
        ("MX", "05", "Acuna", "America/Matamoros"),
        ("MX", "05", "Saltillo", "America/Monterrey"),
        ("MX", "05", "Torreón", "America/Monterrey"),
        ("MX", "19", "Anáhuac", "America/Matamoros"),
        ("MX", "19", "Monterrey", "America/Monterrey"),
        ("MX", "19", "Hidalgo", "America/Monterrey"),  # only Coahuila's Hidalgo is on the border
        ("MX", "26", "Hermosillo", "America/Hermosillo"),
        ("MX", "26", "Nogales", "America/Hermosillo"),
        ("MX", "23", "Benito Juárez", "America/Cancun"),
        ("MX", "23", "Cancún", "America/Cancun"),
        ("MX", "31", "Mérida", "America/Merida"),
        ("MX", "04", "Campeche", "America/Merida"),
        ("MX", "14", "Guadalajara", "America/Mexico_City"),
        ("MX", "18", "Bahía de Banderas", "America/Bahia_Banderas"),
        ("MX", "18", "bahia de banderas", "America/Bahia_Banderas"),
        ("MX", "18", "Tepic", "America/Mazatlan"),
        ("MX", "25", "Culiacán", "America/Mazatlan"),
        ("MX", "03", "La Paz", "America/Mazatlan"),
        ("MX", "09", "Iztapalapa", "America/Mexico_City"),
        ("US", "AZ", "Phoenix", "America/Phoenix"),
        ("US", "AZ", None, "America/Phoenix"),
        ("US", "TX", "El Paso", "America/Denver"),
        ("US", "TX", "El Paso County", "America/Denver"),
        ("US", "TX", "Hudspeth", "America/Denver"),
        ("US", "TX", "Houston", "America/Chicago"),
        ("US", "TX", None, "America/Chicago"),
        ("US", "NM", "Albuquerque", "America/Denver"),
        ("US", "CA", "San Diego", "America/Los_Angeles"),
        ("US", "FL", "Miami", "America/New_York"),
        ("US", "PR", "San Juan", "America/Puerto_Rico"),
    ],
)
def test_derive_timezone(country, state, municipality, zone):
    assert derive_timezone(country, state, municipality) == zone


@pytest.mark.parametrize(
    "country, state, zone",
    [
        ("MX", None, "America/Mexico_City"),
        ("MX", "", "America/Mexico_City"),
        ("MX", "99", "America/Mexico_City"),
        ("US", None, "America/New_York"),
        ("US", "ZZ", "America/New_York"),
    ],
)
def test_unknown_state_falls_back_to_country_zone(country, state, zone):
    assert derive_timezone(country, state, "Anywhere") == zone


def test_derive_timezone_accepts_free_text_state():
    assert derive_timezone("MX", "Tamps.", "Reynosa") == "America/Matamoros"
    assert derive_timezone("MX", "2") == "America/Tijuana"
    assert derive_timezone("us", "tx", "El Paso") == "America/Denver"


def test_every_listed_municipality_maps_to_its_zone():
    # Guards the key function: prefix stripping must not mangle a listed name.
    for country, table in (("MX", _MX_MUNICIPAL_ZONES), ("US", _US_MUNICIPAL_ZONES)):
        for state, by_zone in table.items():
            for zone, names in by_zone.items():
                for name in names:
                    assert derive_timezone(country, state, name) == zone, name
