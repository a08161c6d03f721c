"""Organization settings → API keys: admins create (the secret is shown once), see when
each key was last used, and revoke."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.api import keys
from app.api.forms import SCOPE_LABELS, NewKeyForm, RevokeKeyForm
from app.api.models import ApiKey
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.permissions import permission_required
from app.tenancy import get_owned_or_404
from app.timeutil import utcnow

bp = Blueprint("api_keys", __name__, url_prefix="/organization/api-keys")


def _expiry(org, day) -> datetime | None:
    """The start of `day` in the organization's time zone."""
    if day is None:
        return None
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(org.timezone)).astimezone(UTC)


@bp.route("", methods=["GET", "POST"])
@permission_required("manage_settings")
def index():
    org = current_user.organization
    form = NewKeyForm()
    created = None
    if form.validate_on_submit():
        try:
            created = keys.create_key(
                org.id,
                name=form.name.data,
                scopes=form.scopes.data,
                expires_at=_expiry(org, form.expires_on.data),
                actor_id=current_user.id,
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            form = NewKeyForm(formdata=None)
    return render_template(
        "api/keys.html",
        form=form,
        created=created,
        api_keys=keys.org_keys(org.id),
        revoke_form=RevokeKeyForm(),
        scope_labels=SCOPE_LABELS,
        now=utcnow(),
    ), form_status(form)


@bp.route("/<int:key_id>/revoke", methods=["POST"])
@permission_required("manage_settings")
def revoke(key_id):
    key = get_owned_or_404(ApiKey, key_id)
    form = RevokeKeyForm()
    if form.validate_on_submit():
        try:
            keys.revoke_key(key, actor_id=current_user.id, now=utcnow())
        except DomainError as error:
            flash(str(error), "error")
        else:
            flash(_("Key revoked: requests with it are refused from now on."), "success")
    return redirect(url_for("api_keys.index"))
