"""Injection: hostile strings into every text field of every form the app renders.

Forms are discovered, not listed: every GET route of the table is opened (as an
administrator, who sees every form; the login form anonymously) and its <form> elements
are parsed with html.parser. Each form is submitted with its own CSRF token and default
values, hostile strings replacing some or all of its text fields (and the file of upload
forms carrying them as CSV cells): a fixed list of classic payloads first, then
hypothesis-generated ones. Every answer, the page it redirects to, and afterwards every
page of the organization must be free of the payloads' raw markup (no unescaped output,
no inline script or event handler) and no answer may be a 500.
"""

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.security.helpers import build_url, html_problems, sign_in
from tests.security.routes import ROUTES

TEXT_TYPES = {
    "",
    "text",
    "search",
    "email",
    "tel",
    "url",
    "password",
    "number",
    "date",
    "time",
    "datetime-local",
    "month",
    "week",
}
# Markup that must never come back raw (each is also caught by html_problems when it does).
CORES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    '" autofocus onfocus="alert(1)',
    "</textarea><script>alert(1)</script>",
    "</title><iframe src=javascript:alert(1)>",
    "javascript:alert(1)//",
]
# Text that must survive intact or be refused cleanly, never a 500.
INERT = [
    "'; DROP TABLE contacts;--",
    "1' OR '1'='1",
    "Robert'); DELETE FROM users; --",
    "\u202eRTL override\u202c \u200f\u200e",
    "zero\u200bwidth\u200c\u200d\ufeffjoiners",
    "emoji 😀🧪🇲🇽👩🏽‍⚕️",
    "ÁÉÍÓÚÜÑ áéíóúüñ ¿¡ " * 60,  # very long accented text
    "nul\x00byte",
    "{{7*7}} ${7*7} %(name)s %s {0}",
    '=HYPERLINK("http://evil.example","x")',
    "\r\nSet-Cookie: x=1",
]
FIXED = CORES + INERT
_ids = itertools.count(1)


@dataclass
class Form:
    page: str
    action: str
    method: str
    enctype: str
    fields: list = field(default_factory=list)  # (name, kind, value) kind: text/fixed/file/choice
    submits: list = field(default_factory=list)  # (name, value)

    @property
    def text_fields(self) -> list[str]:
        return [name for name, kind, _v in self.fields if kind == "text"]

    @property
    def key(self):
        return (
            self.method,
            urlsplit(self.action).path,
            tuple(sorted(name for name, kind, _v in self.fields if kind != "fixed")),
        )


class FormParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page, self.forms, self.form = page, [], None
        self.textarea = self.select = None
        self.options: list = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.form = Form(
                self.page,
                a.get("action") or self.page,
                (a.get("method") or "get").upper(),
                a.get("enctype", "application/x-www-form-urlencoded"),
            )
            self.forms.append(self.form)
        elif self.form is None or "disabled" in a:
            return
        elif tag == "input" and a.get("name"):
            self._input(a)
        elif tag == "button" and a.get("name") and a.get("type", "submit") == "submit":
            self.form.submits.append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]
        elif tag == "select" and a.get("name"):
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))

    def _input(self, a: dict) -> None:
        """A named <input> of the current form: a submit button or a field."""
        kind = a.get("type", "").lower()
        if kind in ("submit", "image"):
            self.form.submits.append((a["name"], a.get("value", "")))
        elif kind in ("checkbox", "radio"):
            if "checked" in a:
                self.form.fields.append((a["name"], "choice", a.get("value", "on")))
        elif kind == "hidden":
            self.form.fields.append((a["name"], "fixed", a.get("value", "")))
        elif kind == "file":
            self.form.fields.append((a["name"], "file", ""))
        elif kind in TEXT_TYPES:
            self.form.fields.append((a["name"], "text", a.get("value", "")))

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.textarea is not None:
            if self.form is not None:
                self.form.fields.append((self.textarea[0], "text", self.textarea[1].lstrip("\n")))
            self.textarea = None
        elif tag == "select" and self.select:
            chosen = [v for v, selected in self.options if selected] or [
                v for v, _s in self.options[:1]
            ]
            if self.form is not None:
                for value in chosen:
                    self.form.fields.append((self.select, "choice", value))
            self.select = None


def discover_forms(client, paths) -> list[Form]:
    forms, seen = [], set()
    for path in paths:
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = FormParser(path)
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            if form.text_fields and form.key not in seen:
                seen.add(form.key)
                forms.append(form)
    return forms


def csv_file(values: list[str]) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["telefono", "nombre", "municipio", "etiquetas"])
    for i, value in enumerate(values):
        writer.writerow([f"664 555 {7000 + i:04d}", value, value, value])
    return io.BytesIO(out.getvalue().encode("utf-8", "surrogatepass"))


def tagged(payload: str) -> str:
    """The payload behind a unique tag (names must not collide, e.g. audiences)."""
    return f"Zq{next(_ids):05d}{payload}"


@st.composite
def hostile(draw) -> str:
    core = draw(st.sampled_from(CORES + INERT))
    before = draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12))
    after = draw(
        st.sampled_from(["", "ñandú", "\u202e", "\u200b", "😀", "'", '"', "<", "\x00", "É" * 200])
    )
    return before + core + after


# Raw markup that no page may ever contain (escaped, each of these changes).
RAW = [core for core in CORES if any(c in core for c in "<>\"'")]


class Checker:
    def __init__(self):
        self.failures: list[str] = []
        self.requests = 0

    def check(self, what: str, response) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.failures.append(f"{what}: {response.status_code}")
            return
        if response.mimetype != "text/html":
            return
        body = response.get_data(as_text=True)
        for problem in html_problems(body):
            self.failures.append(f"{what}: {problem}")
        for raw in RAW:
            if raw in body:
                self.failures.append(f"{what}: raw payload {raw!r} in the page")


def submit(client, form: Form, values: dict, submit_button, checker: Checker, what: str):
    data = {}
    for name, kind, default in form.fields:
        if kind == "file":
            data[name] = (
                csv_file([values.get(n, "x") for n in form.text_fields] or ["x"]),
                "hostil.csv",
            )
        elif kind == "text":
            data.setdefault(name, values.get(name, default))
        else:
            data.setdefault(name, [])
            if isinstance(data[name], list):
                data[name].append(default)
    if submit_button:
        data[submit_button[0]] = submit_button[1]
    if form.method == "GET":
        flat = [(k, v) for k, vs in data.items() for v in (vs if isinstance(vs, list) else [vs])]
        response = client.get(urlsplit(form.action).path + "?" + urlencode(flat))
    else:
        response = client.post(
            form.action,
            data=data,
            content_type=(
                "multipart/form-data"
                if "multipart" in form.enctype or any(k == "file" for _n, k, _v in form.fields)
                else None
            ),
        )
    checker.check(what, response)
    if response.status_code in (301, 302, 303) and response.headers.get("Location"):
        target = urlsplit(response.headers["Location"])
        follow = client.get(target.path + (f"?{target.query}" if target.query else ""))
        checker.check(f"{what} → {target.path}", follow)
        follow.close()
    response.close()
    return response


def _fuzz(client, form: Form, checker: Checker) -> int:
    """The fixed payloads, then hypothesis examples: (submissions, how many were saved)."""
    texts = form.text_fields
    buttons = [b for b in form.submits if b[0] == "submit"] or form.submits[:1] or [None]
    other_buttons = [b for b in form.submits if b not in buttons]
    count = saved = 0

    def send(assignment: dict, button, label: str):
        nonlocal count, saved
        values = {name: tagged(payload) for name, payload in assignment.items()}
        response = submit(
            client,
            form,
            values,
            button,
            checker,
            f"{form.method} {form.action} ({label}) from {form.page}",
        )
        count += 1
        saved += form.method == "POST" and response.status_code in (301, 302, 303)

    # every fixed payload into every text field at once (markup and inert text paired),
    # then one field at a time (the others keep their valid defaults, so the hostile
    # value is saved and shown later)
    for index in range(max(len(CORES), len(INERT))):
        payload = CORES[index % len(CORES)] + INERT[index % len(INERT)]
        send({name: payload for name in texts}, buttons[0], f"all fields: {payload[:30]!r}")
    for index, name in enumerate(texts):
        payload = FIXED[index % len(FIXED)]
        send({name: payload}, buttons[0], f"{name}: {payload[:30]!r}")

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def examples(data):
        chosen = data.draw(st.lists(st.sampled_from(texts), min_size=1, unique=True))
        assignment = {name: data.draw(hostile()) for name in chosen}
        button = data.draw(st.sampled_from(buttons + other_buttons))
        send(assignment, button, f"hypothesis {sorted(assignment)}")

    examples()
    return count, saved


def _pages(app, world) -> list[str]:
    """Every GET page of organization A (the first URL of each endpoint)."""
    paths = []
    for endpoint, spec in sorted(ROUTES.items()):
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        if "GET" in rule.methods and spec.permission not in ("webhook", "token", "public", "api"):
            paths.append(build_url(app, endpoint, spec.urls(world.a)[0]))
    return paths


def test_hostile_input_in_every_form(world, capsys):
    app = world.app
    admin = sign_in(app, world.users["admin"])
    anonymous = app.test_client()
    pages = _pages(app, world)
    forms = [(anonymous, f) for f in discover_forms(anonymous, ["/login"])]
    forms += [(admin, f) for f in discover_forms(admin, pages)]
    assert len(forms) >= 20, [f.action for _c, f in forms]
    checker = Checker()
    submissions = fields = 0
    display = [p for p in pages if admin.get(p).mimetype == "text/html"]
    for client, form in forms:
        fields += len(form.text_fields)
        count, saved = _fuzz(client, form, checker)
        submissions += count
        if saved:  # every page of the organization, after this form's payloads were saved
            for path in display:
                response = admin.get(path)
                checker.check(f"GET {path} after {form.action}", response)
                response.close()
    with capsys.disabled():
        print(
            f"\n[injection] {len(forms)} forms, {fields} text fields, "
            f"{len(FIXED)} fixed payloads (all fields at once, then each field) + 15 "
            f"hypothesis examples per form: "
            f"{submissions} submissions, {checker.requests} responses checked"
        )
    unique = list(dict.fromkeys(checker.failures))
    assert not unique, "\n".join(unique[:60])


def test_language_switch_never_links_off_site(world):
    """A path with a backslash ("/\\evil.example", read by browsers as "//evil.example")
    must not turn the language switch of the 404 page into a link to another site."""
    client = world.app.test_client()
    for path in ("/\\evil.example/x", "/\\/evil.example", "//evil.example/x", "/%5Cevil.example"):
        response = client.get("/x", environ_overrides={"PATH_INFO": path})
        links = re.findall(r'href="([^"]*lang=[^"]*)"', response.get_data(as_text=True))
        assert links
        for link in links:
            assert link.startswith("/") and not link.startswith(("//", "/\\")), link
            assert "\\" not in link, link


def test_lazy_translations_are_escaped(app):
    """Flask-Babel's lazy strings claim to be safe HTML; the app escapes them anyway, so a
    lazy message that carries user input (or a literal "<") cannot inject markup."""
    from flask import render_template_string
    from flask_babel import lazy_gettext

    with app.test_request_context():
        lazy = lazy_gettext("Unknown value: %(value)s.", value='"><img src=x onerror=alert(1)>')
        html = render_template_string("<p>{{ message }}</p>", message=lazy)
    assert "<img" not in html and "&lt;img" in html


def test_glossary_text_is_escaped(world):
    client = sign_in(world.app, world.users["evaluator"])
    body = client.get("/reports/glossary").get_data(as_text=True)
    assert html_problems(body) == []
    assert "<threshold" not in body
