from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import services
from app.auth.forms import ChangePasswordForm, EditUserForm, LoginForm, NewUserForm
from app.auth.models import User
from app.errors import DomainError, attach_to_form
from app.extensions import db
from app.forms import form_status
from app.permissions import permission_required
from app.tenancy import get_owned_or_404, scoped

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.email.data, form.password.data, ip=request.remote_addr or "-"
            )
        except services.LoginError as error:
            attach_to_form(form, error)
        else:
            lang = session.get("lang")
            session.clear()  # no pre-login session state survives (fixation)
            if lang:
                session["lang"] = lang
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), form_status(form)


@bp.post("/logout")
@login_required
def logout():
    services.end_all_sessions(current_user._get_current_object(), reason="logout")
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:  # the sign-in page stays in the language the person chose
        session["lang"] = language
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user._get_current_object(),
                current=form.current_password.data,
                new=form.new_password.data,
                ip=request.remote_addr or "-",
            )
        except DomainError as error:
            attach_to_form(form, error)
        else:
            logout_user()
            flash(_("Your password was changed. Sign in again with the new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/change_password.html", form=form), form_status(form)


@bp.route("/users", methods=["GET", "POST"])
@permission_required("manage_users")
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            services.create_user(
                current_user.organization,
                email=form.email.data,
                role=form.role.data,
                password=form.password.data,
                language=form.language.data,
            )
        except DomainError as error:
            attach_to_form(form, error)
        else:
            flash(_("User created."), "success")
            return redirect(url_for("auth.users"))
    people = db.session.scalars(scoped(User).order_by(User.email)).all()
    return render_template("auth/users.html", users=people, form=form), form_status(form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("manage_users")
def edit_user(user_id):
    user = get_owned_or_404(User, user_id)
    form = EditUserForm(obj=user)
    if form.validate_on_submit():
        try:
            services.update_user(
                current_user._get_current_object(),
                user,
                role=form.role.data,
                active=form.active.data,
            )
        except DomainError as error:
            db.session.rollback()
            attach_to_form(form, error)
        else:
            flash(_("User updated."), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/edit_user.html", user=user, form=form), form_status(form)
