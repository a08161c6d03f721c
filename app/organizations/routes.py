from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.organizations import services
from app.organizations.forms import MIN_SMALL_CELL, SettingsForm, reminder_summary
from app.organizations.notices import settings_notices
from app.organizations.price_forms import PricesForm, field_name
from app.organizations.prices import default_prices, money, price_list, save_prices
from app.permissions import permission_required

bp = Blueprint("organizations", __name__, url_prefix="/organization")


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("manage_settings")
def settings():
    org = current_user.organization
    form = SettingsForm(obj=org)
    if form.validate_on_submit():
        try:
            services.update_settings(
                org,
                actor_id=current_user.id,
                name=form.name.data,
                **{key: getattr(form, key).data for key in services.SETTINGS},
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            flash(_("Settings saved."), "success")
            return redirect(url_for("organizations.settings"))
    return render_template(
        "organizations/settings.html",
        form=form,
        org=org,
        reminder_summary=reminder_summary(org.reminder_hours),
        min_small_cell=MIN_SMALL_CELL,
        notices=settings_notices(org.id),
    ), form_status(form)


@bp.route("/prices", methods=["GET", "POST"])
@permission_required("manage_settings")
def prices():
    """Prices per SMS segment and per WhatsApp message by country (issue 19)."""
    org = current_user.organization
    current = price_list(org.id)
    form = PricesForm()
    if request.method == "GET":
        for (channel, country), price in current.prices.items():
            if (channel, country) not in current.defaults and hasattr(
                form, field_name(channel, country)
            ):
                getattr(form, field_name(channel, country)).data = price
    if form.validate_on_submit():
        save_prices(org.id, form.values())
        flash(_("Prices saved."), "success")
        return redirect(url_for("organizations.prices"))
    defaults = {
        field_name(channel, country): money(price, current.currency, exact=True)
        for (channel, country), price in default_prices().items()
    }
    return render_template(
        "organizations/prices.html", form=form, defaults=defaults, currency=current.currency
    ), form_status(form)
