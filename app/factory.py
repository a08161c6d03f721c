"""The composition root: builds the app from every layer (kernel, outbox, features,
reports) and wires their registries: blueprints, CLI, job handlers, reply handlers,
outbox guards and the worker's periodic tasks."""

from pathlib import Path

from flask import Flask, abort, request
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import import_string

from app import models, schedule, sqlite  # noqa: F401  (every table; SQLite connection settings)
from app.api.problems import api_errors_or
from app.api.routes import init_api
from app.api.settings_routes import bp as api_keys_bp
from app.auth.models import User
from app.auth.routes import bp as auth_bp
from app.campaigns import hooks as campaign_hooks  # noqa: F401  (outbox guard, HELP name)
from app.campaigns.routes import bp as campaigns_bp
from app.cli import register_cli
from app.contacts import import_jobs  # noqa: F401  (registers the job handler)
from app.contacts.audience_routes import bp as audiences_bp
from app.contacts.import_routes import bp as contact_imports_bp
from app.contacts.routes import bp as contacts_bp
from app.conversations import hooks as conversation_hooks  # noqa: F401  (inbound, erasure)
from app.conversations.routes import bp as conversations_bp
from app.conversations.settings_routes import bp as conversation_settings_bp
from app.db_dialect import include_in_autogenerate
from app.experiments import hooks as experiment_hooks  # noqa: F401  (outbox guard: holdout)
from app.experiments import start_jobs  # noqa: F401  (registers the job handler)
from app.experiments.routes import bp as experiments_bp
from app.extensions import babel, csrf, db, login_manager, migrate
from app.i18n import apply_language_switch, select_locale, select_timezone
from app.integrations import hooks as integration_hooks  # noqa: F401  (webhook outbox, notices)
from app.integrations.routes import bp as integrations_bp
from app.jobs.routes import bp as jobs_bp
from app.links import hooks as link_hooks  # noqa: F401  (text finalizer: short links, erasure)
from app.links.routes import bp as links_bp
from app.logging_setup import configure_logging
from app.main.routes import bp as main_bp
from app.main.routes import render_error
from app.messaging.factory import build_gateway, build_template_gateway
from app.organizations.routes import bp as organizations_bp
from app.outbox import hooks as outbox_hooks  # noqa: F401  (erasure, retention activity)
from app.outreach import fanout_jobs  # noqa: F401  (registers the job handler)
from app.outreach import hooks as send_hooks  # noqa: F401  (outbox guard, campaign signals)
from app.outreach.routes import bp as outreach_bp
from app.ratelimit import rate_limits
from app.reports import export_jobs  # noqa: F401  (registers the job handler)
from app.reports.routes import bp as reports_bp
from app.security_headers import add_security_headers
from app.surveys import hooks as survey_hooks  # noqa: F401  (survey answers, opt-out, erasure)
from app.surveys.routes import bp as surveys_bp
from app.ui import template_context
from app.webhooks.routes import bp as webhooks_bp
from app.whatsapp.routes import bp as whatsapp_bp
from app.workshops import invitations, previews, rsvp  # noqa: F401  (invitation sends, RSVP replies, editor preview)
from app.workshops.attendance_routes import bp as attendance_bp
from app.workshops.routes import bp as workshops_bp

ROOT = Path(__file__).resolve().parent.parent


def _reject_nul_bytes():
    """A NUL character in a query or form value (or an upload's file name) is refused as a
    bad request (400): PostgreSQL text cannot hold it, so it would fail later as a 500."""
    values = [v for _k, vs in request.args.lists() for v in vs]
    if request.method != "GET":
        values += [v for _k, vs in request.form.lists() for v in vs]
        values += [f.filename or "" for _k, fs in request.files.lists() for f in fs]
    if any("\x00" in value for value in values):
        abort(400)


def _escape_lazy_strings(value):
    return str(value) if isinstance(value, LazyString) else value


def create_app(config_object="config.DevelopmentConfig") -> Flask:
    """Build the application. Touches neither the database nor the network."""

    app = Flask(
        "app",  # the package: its logger is "app", its root path app/
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    config = import_string(config_object) if isinstance(config_object, str) else config_object
    app.config.from_object(config)
    config.validate(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(exist_ok=True)
    if app.config["PROXY_FIX"]:
        n = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    configure_logging(app)
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        include_object=include_in_autogenerate,
    )
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    rate_limits.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token):
        return db.session.scalar(select(User).where(User.session_token == session_token))

    app.jinja_env.policies["ext.i18n.trimmed"] = True
    # Flask-Babel's lazy strings declare themselves safe HTML (__html__ returns the raw
    # text), so {{ lazy }} would bypass autoescaping: output them as plain, escaped text.
    app.jinja_env.finalize = _escape_lazy_strings
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    app.context_processor(template_context)
    app.before_request(_reject_nul_bytes)
    app.before_request(apply_language_switch)
    app.after_request(lambda r: add_security_headers(r, hsts=app.config["SECURITY_HSTS"]))
    # /api/v1 answers errors as problem details; every other page, as HTML.
    app.register_error_handler(HTTPException, api_errors_or(render_error))
    app.register_error_handler(500, api_errors_or(render_error))

    for blueprint in (
        main_bp,
        auth_bp,
        organizations_bp,
        contacts_bp,
        contact_imports_bp,
        audiences_bp,
        campaigns_bp,
        outreach_bp,
        experiments_bp,
        conversations_bp,
        conversation_settings_bp,
        webhooks_bp,
        workshops_bp,
        attendance_bp,
        surveys_bp,
        whatsapp_bp,
        reports_bp,
        jobs_bp,
        links_bp,
        api_keys_bp,
        integrations_bp,
    ):
        app.register_blueprint(blueprint)
    init_api(app)
    app.extensions["sms_gateway"] = build_gateway(app.config)
    app.extensions["template_gateway"] = build_template_gateway(app.config)
    app.extensions["maintenance_tasks"] = schedule.maintenance_tasks(app.config)
    register_cli(app)
    return app
