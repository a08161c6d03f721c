import pytest

from app.outbox.keywords import (
    HELP,
    OPT_IN,
    OPT_OUT,
    OTHER,
    RSVP_NO,
    RSVP_YES,
    STOP_REQUEST,
    Intent,
    classify,
    is_twilio_opt_in,
    normalize,
    register,
    unregister,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Sí", "SI"),
        ("no más", "NO MAS"),
        ("  Baja.  ", "BAJA"),
        ("¿a qué hora es?", "A QUE HORA ES"),
        ("sí #4821", "SI 4821"),
        ("Yes, 4821", "YES 4821"),
        ("opt-out", "OPT OUT"),
        ("don't text me", "DONT TEXT ME"),
        ("ＳＴＯＰ", "STOP"),
        ("Ñoño\n\tAYUDA!!", "NONO AYUDA"),
        ("", ""),
        ("🙂", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


OPT_OUT_WORDS = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT OUT",
    "BAJA",
    "ALTO",
    "CANCELAR",
    "PARAR",
    "DETENER",
    "NO MÁS",
]


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
@pytest.mark.parametrize(
    "variant", [str.upper, str.lower, str.title, lambda w: f"  {w}.  ", lambda w: f"¡{w}!"]
)
def test_opt_out_keywords_in_both_languages(word, variant):
    assert classify(variant(word)).kind == OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "Baja",
        "baja.",
        " STOP ",
        "No más",
        "NO MAS",
        "no mas",
        "Opt-Out",
        "opt out",
        "Detener",
        "CANCELAR!",
        "stop 🛑",
    ],
)
def test_opt_out_variants(text):
    assert classify(text).kind == OPT_OUT


@pytest.mark.parametrize("text", ["START", "start", "Unstop", "ALTA", "alta.", "Alta"])
def test_opt_in_keywords(text):
    assert classify(text).kind == OPT_IN


@pytest.mark.parametrize("text", ["HELP", "help?", "Info", "AYUDA", "ayuda", "¡Ayuda!"])
def test_help_keywords(text):
    assert classify(text).kind == HELP


@pytest.mark.parametrize(
    "text, kind, code",
    [
        ("SI 4821", RSVP_YES, "4821"),
        ("si4821", RSVP_YES, "4821"),
        ("Yes, 4821", RSVP_YES, "4821"),
        ("sí #4821", RSVP_YES, "4821"),
        ("SÍ 0007", RSVP_YES, "0007"),
        ("y 1234", RSVP_YES, "1234"),
        ("Sí", RSVP_YES, None),
        ("si", RSVP_YES, None),
        ("YES!", RSVP_YES, None),
        ("Y", RSVP_YES, None),
        ("NO 4821", RSVP_NO, "4821"),
        ("no, #4821", RSVP_NO, "4821"),
        ("No", RSVP_NO, None),
        ("no.", RSVP_NO, None),
    ],
)
def test_rsvp_grammar(text, kind, code):
    intent = classify(text)
    assert (intent.kind, intent.code) == (kind, code)
    assert intent.keyword in {"SI", "YES", "Y", "NO"}


@pytest.mark.parametrize("text", ["SI 482", "SI 48211", "si claro que si", "yes please 4821"])
def test_not_rsvp(text):
    assert classify(text).kind not in {RSVP_YES, RSVP_NO}


def test_yes_decision():
    assert classify("YES").kind == RSVP_YES  # not opt-in: the caller decides (see docstring)
    assert is_twilio_opt_in(classify("yes"))
    assert is_twilio_opt_in(classify("START"))
    assert not is_twilio_opt_in(classify("YES 4821"))
    assert not is_twilio_opt_in(classify("Sí"))


@pytest.mark.parametrize(
    "text",
    [
        "stop please",
        "Please stop",
        "STOP STOP STOP",
        "unsubscribe me",
        "please stop texting me",
        "Stop sending me messages",
        "don't text me anymore",
        "remove me from your list",
        "no more texts",
        "ya no me manden mensajes",
        "no quiero recibir mas mensajes",
        "No quiero recibir más mensajes, gracias",
        "dejen de mandarme",
        "Dejen de mandarme cosas",
        "no me manden nada",
        "Baja por favor",
        "dame de baja",
        "Quiero darme de baja",
        "ALTO YA",
        "no más mensajes por favor",
        "basta de mensajes",
        "sáquenme de la lista",
        "borren mi número",
        "Cancelar por favor",
        "quit texting me",
        "opt me out",
    ],
)
def test_stop_requests_are_flagged(text):
    assert classify(text).kind == STOP_REQUEST


@pytest.mark.parametrize(
    "text",
    [
        "gracias",
        "¿a qué hora es?",
        "Gracias, ahí nos vemos",
        "¿Dónde es el taller?",
        "I quit vaping last month!",
        "how do I stop drinking?",
        "Dejé de fumar",
        "vivo en Baja California",
        "ok",
        "no gracias",
        "¿Puedo llevar a un amigo?",
        "cancel my spot for friday",
        "",
        "Me gustó mucho la plática",
        "🙂",
    ],
)
def test_ordinary_replies_are_other(text):
    assert classify(text).kind == OTHER


def test_registry_adds_intents_without_shadowing_opt_out():
    def rating(text):
        return Intent("rating", code=text) if text in {"1", "2", "3", "4", "5"} else None

    def greedy(text):
        return Intent("greedy")

    register(rating)
    try:
        assert classify("5") == Intent("rating", code="5")
        assert classify("SI 4821").kind == RSVP_YES  # built-ins run first by default
        register(greedy, priority=0)
        assert classify("hola").kind == "greedy"
        assert classify("BAJA").kind == OPT_OUT  # opt-out always wins
        assert classify("No más").kind == OPT_OUT
    finally:
        unregister(rating)
        unregister(greedy)
    assert classify("5").kind == OTHER
