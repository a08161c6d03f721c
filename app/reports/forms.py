"""The report period form (pages, exports and `flask reports reach` validate through it)."""

from datetime import date, timedelta

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from app.forms import BaseForm, choices
from app.reports.period import MAX_DAILY_POINTS, Period

MIN_DATE = date(2000, 1, 1)
MAX_FUTURE_DAYS = 366


def _latest_allowed(today: date) -> date:
    return today + timedelta(days=MAX_FUTURE_DAYS)


class ReportRangeForm(BaseForm):
    """GET form: from/to dates (optional) and day/week points for the time series."""

    class Meta:
        csrf = False  # a read-only GET form

    date_from = DateField(_l("From"), name="from", validators=[Optional()])
    date_to = DateField(_l("To"), name="to", validators=[Optional()])
    granularity = SelectField(
        _l("Time series"),
        validators=[Optional()],
        choices=choices([("", _l("Automatic")), ("day", _l("Per day")), ("week", _l("Per week"))]),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def _check_range(self, field):
        if field.data is None:
            return
        latest = _latest_allowed(self.today)
        if not MIN_DATE <= field.data <= latest:
            raise ValidationError(
                _(
                    "Choose a date between %(first)s and %(last)s.",
                    first=format_date(MIN_DATE, "medium"),
                    last=format_date(latest, "medium"),
                )
            )

    def validate_date_from(self, field):
        self._check_range(field)

    def validate_date_to(self, field):
        self._check_range(field)
        start = self.date_from.data
        if field.data is not None and start is not None and field.data < start:
            raise ValidationError(_("The end date must not be before the start date."))

    def validate_granularity(self, field):
        start, end = self.date_from.data, self.date_to.data
        if field.data == "day" and start and end and (end - start).days + 1 > MAX_DAILY_POINTS:
            raise ValidationError(
                _(
                    "Daily points cover at most %(days)d days; choose weekly points or a shorter "
                    "period.",
                    days=MAX_DAILY_POINTS,
                )
            )

    def period(self, tz: str) -> Period:
        return Period(self.date_from.data, self.date_to.data, tz)

    def chosen_granularity(self) -> str | None:
        return self.granularity.data or None
