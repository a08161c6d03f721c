import json

import pytest


def _lines(result):
    return [json.loads(line) for line in result.output.splitlines()]


def _parse(runner, *args, input):
    return runner.invoke(args=["surveys", "parse", *args], input=input)


def test_choice_replies_print_one_json_object_per_line(runner):
    replies = "2)\ndos\ncreo que POCOO!!\nopción 7\nSALTAR\n\n"
    result = _parse(runner, "--type", "choice", "--options", "Nada,Poco,Algo,Mucho", input=replies)
    assert result.exit_code == 0, result.output
    assert _lines(result) == [
        {"text": "2)", "value": 2, "valid": True},
        {"text": "dos", "value": 2, "valid": True},
        {"text": "creo que POCOO!!", "value": 2, "valid": True},
        {"text": "opción 7", "value": None, "valid": False},
        {"text": "SALTAR", "value": None, "valid": True, "skip": True},
        {"text": "", "value": None, "valid": False},
    ]
    assert "opción" in result.output  # ensure_ascii=False: accents as written


@pytest.mark.parametrize(
    ("args", "replies", "values"),
    [
        (["--type", "scale", "--range", "1-5"], "5 muy\n4️⃣\n⭐⭐⭐\n6\n", [5, 4, 3, None]),
        (["--type", "scale", "--range", "0-10", "--lang", "en"], "ten\n8/10\n", [10, 8]),
        (["--type", "yesno", "--lang", "es"], "Sí!!\nnop\n👍\nno sé\n", [True, False, True, None]),
        (["--type", "number", "--range", "10-29"], "tengo 15 años\nveintidós\n9\n", [15, 22, None]),
        (["--type", "number"], "twenty two\r\n", [22]),
        (["--type", "text"], "  con mi hermana  \n", ["con mi hermana"]),
        (
            ["--type", "scale", "--range", "1-4", "--options", "Sin riesgo,Poco,Moderado,Mucho"],
            "mucho riesgo\n",
            [4],
        ),
    ],
)
def test_every_question_type(runner, args, replies, values):
    result = _parse(runner, *args, input=replies)
    assert result.exit_code == 0, result.output
    assert [line["value"] for line in _lines(result)] == values
    assert [line["valid"] for line in _lines(result)] == [v is not None for v in values]


def test_empty_input(runner):
    result = _parse(runner, "--type", "yesno", input="")
    assert result.exit_code == 0
    assert result.output == ""


BAD_ARGUMENTS = [
    (
        ["--type", "color"],
        "--type",
        "Tipo de pregunta desconocido",
        "Unknown question type",
    ),
    (
        ["--type", "choice"],
        "--options",
        "necesita sus opciones",
        "needs its options",
    ),
    (
        ["--type", "choice", "--options", "Nada"],
        "--options",
        "al menos dos opciones",
        "at least two options",
    ),
    (
        ["--type", "yesno", "--options", "Sí,No"],
        "--options",
        "Solo las preguntas de opción múltiple y de escala llevan opciones.",
        "Only choice and scale questions take options.",
    ),
    (
        ["--type", "scale"],
        "--range",
        "necesita su rango",
        "needs its range",
    ),
    (
        ["--type", "scale", "--range", "5-1"],
        "--range",
        "el menor primero",
        "the smaller first",
    ),
    (
        ["--type", "number", "--range", "a-b"],
        "--range",
        "el menor primero",
        "the smaller first",
    ),
    (
        ["--type", "scale", "--range", "1-7"],
        "--range",
        "Una escala va de 1 a 4, de 1 a 5 o de 0 a 10.",
        "A scale goes from 1 to 4, 1 to 5 or 0 to 10.",
    ),
    (
        ["--type", "choice", "--options", "Nada,Poco", "--range", "1-5"],
        "--range",
        "Solo las preguntas de escala y de número llevan rango.",
        "Only scale and number questions take a range.",
    ),
    (
        ["--type", "scale", "--range", "1-5", "--options", "a,b,c"],
        "--options",
        "sus 5 puntos",
        "its 5 points",
    ),
    (
        ["--type", "yesno", "--lang", "fr"],
        "--lang",
        "Idioma desconocido (usa es o en).",
        "Unknown language (use es or en).",
    ),
]


@pytest.mark.parametrize("operator_language", ["es", "en"])
@pytest.mark.parametrize(("args", "hint", "spanish", "english"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_a_translated_message(
    runner, monkeypatch, operator_language, args, hint, spanish, english
):
    monkeypatch.setenv("ALCANCE_LANG", operator_language)
    result = _parse(runner, *args, input="sí\n")
    assert result.exit_code == 2
    message = spanish if operator_language == "es" else english
    assert message in result.output
    assert hint in result.output
    assert '"text"' not in result.output  # nothing parsed
