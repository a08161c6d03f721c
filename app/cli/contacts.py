"""Contacts: the young people we reach, their consent, and audiences (segments)."""

import os

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.cli.helpers import fail, localized, validated
from app.contacts import import_services as services
from app.contacts.import_forms import ImportOptionsForm
from app.errors import DomainError
from app.organizations.services import organization_by_slug
from app.timeutil import utcnow

contacts_cli = AppGroup("contacts", help="Manage contacts.")

SHOWN_REJECTIONS = 10


def _writable(path: str) -> bool:
    if os.path.isdir(path):
        return False
    if os.path.exists(path):
        return os.access(path, os.W_OK)
    return os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)


@contacts_cli.command("import")
@click.argument("file", required=False)
@click.option("--org", "org_slug", help="Slug of the organization that owns the contacts.")
@click.option(
    "--on-duplicate",
    "duplicate_rule",
    default="update",
    show_default=True,
    help="update: refresh the known contact (tags are added); skip: keep it as is.",
)
@click.option(
    "--consent-source",
    default="",
    help="Consent source for rows without one: workshop, school, web_form, "
    "sms_keyword or imported_list.",
)
@click.option("--consent-basis", default="", help="Stated basis of consent (imported_list).")
@click.option("--report", "report_path", help="Write the rejected rows (CSV) to this path.")
@localized
def import_contacts(file, org_slug, duplicate_rule, consent_source, consent_basis, report_path):
    """Import contacts from a CSV FILE into an organization, without the web preview.

    Exits with status 2, having changed nothing, on bad options, an unknown
    organization or a file that cannot be imported.
    """
    if not org_slug:
        fail(DomainError(_("Give the organization with --org SLUG.")))
    if not file:
        fail(DomainError(_("Give the CSV file to import.")))
    form = validated(
        ImportOptionsForm,
        duplicate_rule=duplicate_rule,
        consent_source=consent_source,
        consent_basis=consent_basis,
    )
    if report_path and not _writable(report_path):
        fail(DomainError(_("Cannot write the report to %(path)s.", path=report_path)))
    try:
        org = organization_by_slug(org_slug)
        data = services.read_file(file)
        imp = services.create_import(
            org,
            user_id=None,
            filename=file,
            data=data,
            duplicate_rule=form.duplicate_rule.data,
            consent_source=form.consent_source.data or None,
            consent_basis=form.consent_basis.data,
        )
        click.echo(
            _(
                "Read %(rows)d rows (%(encoding)s, %(delimiter)s).",
                rows=imp.total_rows,
                encoding=services.ENCODING_LABELS.get(imp.encoding, imp.encoding),
                delimiter=services.DELIMITER_LABELS.get(imp.delimiter, imp.delimiter),
            )
        )
        warning = services.encoding_warning(imp)
        if warning:
            click.echo(warning)
        with click.progressbar(
            length=max(imp.total_rows, 1), label=_("Importing"), show_percent=True, show_pos=True
        ) as bar:
            shown = [0]

            def progress(*, done, rejected=0, total=None, force=False):
                bar.update(done - shown[0])
                shown[0] = done

            result = services.apply_import(imp, now=utcnow(), progress=progress)
    except DomainError as error:
        fail(error)

    click.echo(
        _(
            "Import finished: %(created)d created, %(updated)d updated, %(skipped)d "
            "skipped (duplicates), %(rejected)d rejected.",
            created=result.created,
            updated=result.updated,
            skipped=result.skipped,
            rejected=result.rejected,
        )
    )
    for line, reason in result.rejected_sample[:SHOWN_REJECTIONS]:
        click.echo(_("Line %(line)d: %(reason)s", line=line, reason=reason))
    if report_path:
        with open(report_path, "w", encoding="utf-8-sig", newline="") as out:
            out.write(services.rejected_report(imp) or "")
        click.echo(_("Rejected rows written to %(path)s.", path=report_path))
    elif result.rejected > SHOWN_REJECTIONS:
        click.echo(
            _(
                "%(num)d more rejected rows: use --report PATH to save them all.",
                num=result.rejected - SHOWN_REJECTIONS,
            )
        )
