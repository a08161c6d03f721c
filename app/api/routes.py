"""Wires /api/v1 into the app: the OpenAPI 3.1 document (flask-smorest + apispec, from the
marshmallow schemas and view docstrings) at /api/v1/openapi.json, a docs page rendered
by the app itself from that document (no CDN), and the API's blueprints.

Why flask-smorest: it registers ordinary Flask blueprints on the app the factory already
builds (APIFlask would replace the Flask class itself), and its marshmallow schemas both
validate the requests and generate the document, so the two cannot drift apart.
"""

import http

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, render_template
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from app.api import audiences, campaigns, contacts, events, reports, sends, workshops
from app.api.problems import MEDIA_TYPE, PROBLEMS, ApiProblem, from_exception
from app.api.schemas import Problem
from app.extensions import csrf

API_BLUEPRINTS = (
    contacts.blp,
    sends.blp,
    audiences.blp,
    campaigns.blp,
    workshops.blp,
    reports.blp,
    events.blp,
)

docs_bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

DESCRIPTION = """Alcance's public API. Authenticate with an API key created by an
organization admin (Organization settings → API keys): `Authorization: Bearer <key>`.
Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`.
POST requests accept an `Idempotency-Key` header."""


class AlcanceApi(Api):
    """flask-smorest's Api, with problem details as the documented error body and no
    app-wide error handler of its own (the factory's handler answers API errors with
    problem details and every other page with the HTML error pages)."""

    ERROR_SCHEMA = Problem

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            content_type = "application/json"
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                content_type = MEDIA_TYPE
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_api(app) -> Api:
    app.config.update(
        API_TITLE="Alcance API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = AlcanceApi(
        app,
        spec_kwargs={
            "info": {"description": DESCRIPTION},
            "marshmallow_plugin": MarshmallowPlugin(),
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An API key."}
    )
    for blueprint in API_BLUEPRINTS:
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_bp)
    app.register_error_handler(ApiProblem, from_exception)
    app.extensions["alcance_api"] = api
    return api


METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(spec: dict, node):
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        kind = node["$ref"].split("/")[2]
        node = spec["components"][kind][name]
    return node


def _anchor(method: str, path: str) -> str:
    return f"{method}{path}".replace("/", "-").replace("{", "").replace("}", "")


@docs_bp.route("/docs")
def docs():
    """The API reference, rendered here from the OpenAPI document."""
    spec = current_app.extensions["alcance_api"].spec.to_dict()
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = item.get("parameters", []) + op.get("parameters", [])
            params = [_resolve(spec, p) for p in params]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = {
                code: _resolve(spec, r).get("description", "")
                for code, r in op["responses"].items()
            }
            scopes = [s for req in op.get("security", []) for ss in req.values() for s in ss]
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": params,
                    "body": (body.get("schema") or {}).get("$ref", "").rsplit("/", 1)[-1],
                    "responses": responses,
                    "scopes": scopes,
                    "anchor": _anchor(method, path),
                }
            )
    return render_template(
        "api/docs.html",
        spec=spec,
        operations=operations,
        schemas=spec.get("components", {}).get("schemas", {}),
        problems=[(code, status, str(title)) for code, (status, title) in PROBLEMS.items()],
    )
