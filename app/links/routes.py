"""GET/HEAD /l/<code>: the short link in a young person's SMS (public, no sign-in).

Sets nothing on the device: no session cookie (the session is marked unchanged and not
permanent before Flask would save it, whatever happened during the request, e.g. a
`?lang=` switch) and no other cookie;
`Cache-Control: no-store` (every visit reaches us, and is counted once), `Referrer-Policy:
no-referrer` (the destination never learns the code). The friendly pages are in the
recipient's language (the browser's for an unknown code) and without the app's chrome.
"""

from flask import Blueprint, Response, current_app, render_template, request, session
from flask_babel import force_locale

from app.i18n import regional_locale
from app.links.clicks import follow
from app.timeutil import utcnow

bp = Blueprint("links", __name__, url_prefix="/l")

PAGES = {"unknown": 404, "expired": 410, "unavailable": 410}


@bp.after_request
def _nothing_on_the_device(response):
    # Flask saves the session after this hook: nothing to save, and not permanent (a
    # permanent session would be refreshed on every request), so no Set-Cookie at all.
    session.permanent = False
    session.modified = False
    response.headers.remove("Set-Cookie")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _language(visit) -> str:
    if visit.language in current_app.config["LANGUAGES"]:
        return visit.language
    best = request.accept_languages.best_match(current_app.config["LANGUAGES"])
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


@bp.route("/<code>", methods=["GET"])  # HEAD too (Flask adds it): counted as a preview
def follow_link(code):
    visit = follow(code, method=request.method, user_agent=request.user_agent.string, now=utcnow())
    if visit.outcome == "redirect":
        return Response(status=302, headers={"Location": visit.destination})
    language = _language(visit)
    with force_locale(regional_locale(language)):
        page = render_template(f"links/{visit.outcome}.html", language=language)
    return page, PAGES[visit.outcome]
