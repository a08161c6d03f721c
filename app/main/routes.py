import hmac

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.main.metrics import render_metrics
from app.main.status import health, system_status
from app.permissions import permission_required
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
    return render_template("main/index.html")


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
