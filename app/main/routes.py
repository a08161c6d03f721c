import hmac

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.contacts.models import Contact
from app.forms import form_status
from app.main import dashboard
from app.main import whatsapp_simulator as wa_sim
from app.main.metrics import render_metrics
from app.main.status import health, system_status
from app.permissions import permission_required
from app.tenancy import get_owned_or_404
from app.timeutil import utcnow

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    return redirect(url_for("auth.login"))


@bp.get("/dashboard")
@login_required
def index():
    org, now = current_user.organization, utcnow()
    context = {}
    if current_user.can("coordinate"):
        context["cases"] = dashboard.cases_attention(org.id, now=now)
        context["attention"] = dashboard.attention(org.id, now=now)
        context["active"] = dashboard.active_figures(org, context["attention"].reviews)
    elif current_user.can("view_reports"):
        context["figures"] = dashboard.report_figures(org)
        threshold = None if current_user.can("view_contacts") else org.small_cell_threshold or 5
        context["funnel"] = dashboard.conversation_funnel(org, threshold)
    if current_user.can("manage_users"):
        context["admin"] = dashboard.admin_overview(org)
    return render_template("main/index.html", **context)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on their own (pages link the icons, see base.html): a
    permanent redirect to the static file, cached for a week (the file itself is revalidated,
    like every static file)."""
    # No HTML body: the generic redirect page would be an HTML page, which is never stored.
    response = Response(status=301, mimetype="text/plain")
    response.headers["Location"] = url_for("static", filename="favicon.ico")
    response.cache_control.public = True
    response.cache_control.max_age = 7 * 86400
    return response


@bp.get("/healthz")
def healthz():
    body, code = health()
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"  # a cached "ok" would hide an outage
    return response


@bp.get("/admin/status")
@permission_required("manage_settings")
def status():
    info = system_status(current_user.organization_id, now=utcnow())
    return render_template("main/status.html", status=info)


@bp.get("/metrics")
def metrics():
    """Prometheus scrape endpoint: `Authorization: Bearer $METRICS_TOKEN` (404 when unset)."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        abort(401)
    return Response(render_metrics(), mimetype="text/plain; version=0.0.4")


def render_error(error):
    code = getattr(error, "code", 500) or 500
    if code not in (400, 401, 403, 404, 405, 413, 429, 500):
        code = 500
    return render_template("errors/error.html", code=code), code


# --- phone simulator, WhatsApp view (issue 19; the SMS view is outreach's) ----------------


def _whatsapp_phone(contact_id: int):
    if getattr(current_app.extensions["sms_gateway"], "name", "") != "simulator":
        abort(404)
    contact = get_owned_or_404(Contact, contact_id)
    if contact.erased_at is not None:
        abort(404)
    return contact


@bp.route("/simulator/<int:contact_id>/whatsapp", methods=["GET", "POST"])
@permission_required("coordinate")
def simulator_whatsapp(contact_id):
    """The contact's phone as a WhatsApp chat; a typed reply goes in as a WhatsApp one."""
    contact = _whatsapp_phone(contact_id)
    form = wa_sim.WhatsAppReplyForm()
    if form.validate_on_submit():
        wa_sim.receive_whatsapp(
            contact, current_user.organization, body=form.body.data, payload=None, now=utcnow()
        )
        flash(_("Reply sent. Answers appear here once the worker sends them."), "info")
        return redirect(url_for("main.simulator_whatsapp", contact_id=contact.id))
    return render_template(
        "outreach/whatsapp_phone.html",
        contact=contact,
        form=form,
        tap=wa_sim.ButtonTapForm(),
        items=wa_sim.chat(contact),
    ), form_status(form)


@bp.get("/simulator/<int:contact_id>/whatsapp/messages")
@permission_required("coordinate")
def simulator_whatsapp_messages(contact_id):
    """The chat as an HTML fragment, polled by the page (no inline script)."""
    contact = _whatsapp_phone(contact_id)
    return render_template(
        "outreach/_whatsapp_chat.html",
        contact=contact,
        tap=wa_sim.ButtonTapForm(),
        items=wa_sim.chat(contact),
    )


@bp.post("/simulator/<int:contact_id>/whatsapp/button")
@permission_required("coordinate")
def simulator_whatsapp_button(contact_id):
    """A tapped quick-reply button: Body its title, ButtonPayload its id, as Twilio posts
    them, through the same inbound path as a typed reply."""
    contact = _whatsapp_phone(contact_id)
    form = wa_sim.ButtonTapForm()
    if not form.validate_on_submit():
        abort(400)
    title = wa_sim.button_title(contact, form.payload.data)
    if title is None:  # not a button of a template this contact got
        abort(400)
    wa_sim.receive_whatsapp(
        contact, current_user.organization, body=title, payload=form.payload.data, now=utcnow()
    )
    flash(_("Button tapped: “%(title)s”.", title=title), "info")
    return redirect(url_for("main.simulator_whatsapp", contact_id=contact.id))
