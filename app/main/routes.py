from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

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
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")


def render_error(error):
    code = getattr(error, "code", 500) or 500
    if code not in (400, 401, 403, 404, 405, 413, 429, 500):
        code = 500
    return render_template("errors/error.html", code=code), code
