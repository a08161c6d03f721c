"""Organization settings → Webhooks: admins add endpoints (the signing secret is shown
once), see each one's delivery log, disable or enable, rotate the secret, delete."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.integrations import services
from app.integrations.forms import EVENT_LABELS, EndpointActionForm, NewEndpointForm
from app.integrations.models import WebhookEndpoint
from app.permissions import permission_required
from app.tenancy import get_owned_or_404
from app.timeutil import utcnow

bp = Blueprint("integrations", __name__, url_prefix="/organization/webhooks")


@bp.route("", methods=["GET", "POST"])
@permission_required("manage_settings")
def index():
    org = current_user.organization
    form = NewEndpointForm()
    created = None
    if form.validate_on_submit():
        try:
            created = services.create_endpoint(
                org.id,
                url=form.url.data,
                events=form.events.data,
                description=form.description.data,
                own_system=form.own_system.data,
                actor_id=current_user.id,
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            form = NewEndpointForm(formdata=None)
    return render_template(
        "integrations/index.html",
        form=form,
        created=created,
        endpoints=services.org_endpoints(org.id),
        pending=services.pending_counts(org.id),
        action_form=EndpointActionForm(),
        event_labels=EVENT_LABELS,
    ), form_status(form)


@bp.route("/<int:endpoint_id>")
@permission_required("manage_settings")
def detail(endpoint_id):
    endpoint = get_owned_or_404(WebhookEndpoint, endpoint_id)
    return render_template(
        "integrations/detail.html",
        endpoint=endpoint,
        deliveries=services.delivery_log(endpoint),
        action_form=EndpointActionForm(),
        event_labels=EVENT_LABELS,
        secret=None,
    )


def _action(endpoint_id, do, done_message):
    endpoint = get_owned_or_404(WebhookEndpoint, endpoint_id)
    if EndpointActionForm().validate_on_submit():
        try:
            do(endpoint)
        except DomainError as error:
            db.session.rollback()
            flash(str(error.message), "error")
        else:
            flash(done_message(), "success")
    return redirect(url_for("integrations.detail", endpoint_id=endpoint.id))


@bp.route("/<int:endpoint_id>/disable", methods=["POST"])
@permission_required("manage_settings")
def disable(endpoint_id):
    return _action(
        endpoint_id,
        lambda e: services.set_enabled(e, False, actor_id=current_user.id, now=utcnow()),
        lambda: _("Endpoint disabled: nothing is sent to it until it is enabled again."),
    )


@bp.route("/<int:endpoint_id>/enable", methods=["POST"])
@permission_required("manage_settings")
def enable(endpoint_id):
    return _action(
        endpoint_id,
        lambda e: services.set_enabled(e, True, actor_id=current_user.id, now=utcnow()),
        lambda: _("Endpoint enabled."),
    )


@bp.route("/<int:endpoint_id>/dismiss", methods=["POST"])
@permission_required("manage_settings")
def dismiss(endpoint_id):
    return _action(endpoint_id, services.dismiss_notice, lambda: _("Notice dismissed."))


@bp.route("/<int:endpoint_id>/rotate", methods=["POST"])
@permission_required("manage_settings")
def rotate(endpoint_id):
    endpoint = get_owned_or_404(WebhookEndpoint, endpoint_id)
    if not EndpointActionForm().validate_on_submit():
        return redirect(url_for("integrations.detail", endpoint_id=endpoint.id))
    secret = services.rotate_secret(endpoint, actor_id=current_user.id)
    return render_template(
        "integrations/detail.html",
        endpoint=endpoint,
        deliveries=services.delivery_log(endpoint),
        action_form=EndpointActionForm(),
        event_labels=EVENT_LABELS,
        secret=secret,
    )


@bp.route("/<int:endpoint_id>/delete", methods=["POST"])
@permission_required("manage_settings")
def delete(endpoint_id):
    endpoint = get_owned_or_404(WebhookEndpoint, endpoint_id)
    if EndpointActionForm().validate_on_submit():
        services.delete_endpoint(endpoint, actor_id=current_user.id)
        flash(_("Endpoint deleted."), "success")
    return redirect(url_for("integrations.index"))
