"""Security suite fixtures: two organizations full of objects (the checks every suite
shares are in helpers.py)."""

from types import SimpleNamespace

import pytest

from app.messaging.simulator import SimulatorGateway
from tests.security.helpers import (
    MARKER_A,
    MARKER_B,
    METRICS_TOKEN,
    PHONES_A,
    PHONES_B,
    TWILIO_TOKEN,
)
from tests.security.routes import build_objects


@pytest.fixture
def world(app, make_org, make_user, run_jobs):
    """Organization A (users of every role) and organization B, each with one of every
    object a URL can name. Simulator SMS backend (its pages exist), /metrics enabled."""
    app.extensions["sms_gateway"] = SimulatorGateway()
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    app.config["TWILIO_AUTH_TOKEN"] = TWILIO_TOKEN
    org_a = make_org(slug="alfa", name=f"{MARKER_A} ONG")
    org_b = make_org(slug="beta", name=f"{MARKER_B} ONG")
    # Evaluators of both may download per-person files: every file's route is then reachable
    # (the default, off, is tested in tests/reports/test_person_files.py).
    org_a.evaluator_person_files = org_b.evaluator_person_files = True
    users = {
        role: make_user(org_a, role=role, email=f"{role}@alfa.example.org", language="en")
        for role in ("evaluator", "coordinator", "admin")
    }
    extra_a = make_user(org_a, role="coordinator", email="otra-persona@alfa.example.org")
    admin_b = make_user(org_b, role="admin", email="admin@beta.example.org")
    b_user = make_user(org_b, role="coordinator", email=f"{MARKER_B.lower()}@beta.example.org")
    a = build_objects(
        org_a,
        marker=MARKER_A,
        phone_prefix=PHONES_A,
        users={"other_user": extra_a},
        run_jobs=run_jobs,
    )
    b = build_objects(
        org_b,
        marker=MARKER_B,
        phone_prefix=PHONES_B,
        users={"other_user": b_user},
        run_jobs=run_jobs,
    )
    return SimpleNamespace(
        app=app,
        a=a,
        b=b,
        users=users,
        admin_b=admin_b,
        org_a=org_a,
        org_b=org_b,
        make_user=make_user,
        run_jobs=run_jobs,
    )
