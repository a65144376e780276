"""The organisations' and moderators' forms (Flask-WTF: each carries a CSRF token).

Every box is a text box or a choice kept as typed: the forms judge nothing but the CSRF
token. `finder.submissions.form_payload` turns the group form into the API's payload, whose
one validation names each problem; the views put those messages next to their boxes.
"""

from __future__ import annotations

from babel import Locale
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

from finder import vocab
from finder.accounts.forms import AccountForm

WEEKDAYS = [("0", _l("Monday")), ("1", _l("Tuesday")), ("2", _l("Wednesday")),
            ("3", _l("Thursday")), ("4", _l("Friday")), ("5", _l("Saturday")),
            ("6", _l("Sunday"))]
REPEAT_CHOICES = [("weekly", _l("Every week")), ("weekly:2", _l("Every other week")),
                  ("weekly:3", _l("Every 3 weeks")), ("weekly:4", _l("Every 4 weeks")),
                  ("monthly", _l("Once a month"))]
WEEK_OF_MONTH = [("", _l("(for monthly meetings)")), ("1", _l("First")), ("2", _l("Second")),
                 ("3", _l("Third")), ("4", _l("Fourth")), ("-1", _l("Last"))]
# the first empty rows of the form; "Add another meeting time" adds one more
SPARE_SCHEDULE_ROWS = 1
MAX_SCHEDULE_ROWS = 20


def _choices(v: vocab.Vocabulary) -> list[tuple[str, str]]:
    return [(code, _l(label)) for code, label in v.labels.items()]


def country_choices() -> list[tuple[str, str]]:
    """Every two-letter country code with its English name, by name (CLDR via Babel)."""
    names = {code: name for code, name in Locale("en").territories.items()
             if len(code) == 2 and code.isalpha() and code not in ("ZZ", "EU", "EZ", "UN")}
    return [("", "")] + sorted(names.items(), key=lambda item: item[1])


def _select(label, choices, **kwargs) -> SelectField:
    # choices are not checked here: an unknown value goes on to the payload's validation
    return SelectField(label, choices=choices, validate_choice=False, **kwargs)


class ScheduleForm(Form):
    """One meeting time: "every Tuesday 7pm", "first Saturday 10:30", "last Thursday"..."""

    repeat = _select(_l("How often"), REPEAT_CHOICES, default="weekly")
    week_of_month = _select(_l("Which week of the month"), WEEK_OF_MONTH, default="")
    weekday = _select(_l("Day"), [("", _l("Choose a day"))] + WEEKDAYS, default="")
    start_time = StringField(_l("Starts at"))
    duration_minutes = StringField(_l("Length in minutes"), default="90")
    valid_from = StringField(_l("From (optional)"))
    valid_until = StringField(_l("Until (optional)"))
    cancelled_dates = StringField(_l("Dates it will not meet (optional)"))
    remove = BooleanField(_l("Remove this meeting time"))


class GroupForm(AccountForm):
    """Every field of a listing, in the order people think of them."""

    name = StringField(_l("Name of the group"))
    description = TextAreaField(_l("What happens at the group"))
    format = RadioField(_l("How does it meet?"), choices=_choices(vocab.FORMAT),
                        validate_choice=False)
    venue_name = StringField(_l("Venue name (optional)"))
    address_line1 = StringField(_l("Address"))
    address_line2 = StringField(_l("Address, second line (optional)"))
    town = StringField(_l("Town or city"))
    region = StringField(_l("County, state or region (optional)"))
    postcode = StringField(_l("Postcode or ZIP code"))
    country = _select(_l("Country"), [])
    timezone = StringField(_l("Time zone of the meetings"))
    service_anywhere = BooleanField(_l("Open to people anywhere in the world"))
    service_countries = StringField(_l("Or: the countries it is open to"))
    schedules = FieldList(FormField(ScheduleForm), min_entries=1,
                          max_entries=MAX_SCHEDULE_ROWS)
    join_mode = RadioField(_l("How do people join?"), choices=_choices(vocab.JOIN),
                           validate_choice=False)
    join_url = StringField(_l("Link to join or register (optional)"))
    join_phone = StringField(_l("Phone number (optional)"))
    join_email = StringField(_l("Email address (optional)"))
    join_notes = TextAreaField(_l("Anything else people should know before coming (optional)"))
    loss_types = SelectMultipleField(_l("Kinds of loss it supports"),
                                     choices=_choices(vocab.LOSS), validate_choice=False)
    audiences = SelectMultipleField(_l("Who it is for"), choices=_choices(vocab.AUDIENCE),
                                    validate_choice=False)
    languages = SelectMultipleField(_l("Languages spoken"), choices=_choices(vocab.LANGUAGE),
                                    validate_choice=False)
    cost = RadioField(_l("Cost"), choices=_choices(vocab.COST), validate_choice=False)
    facilitation = RadioField(_l("Who leads it"), choices=_choices(vocab.FACILITATION),
                              validate_choice=False)
    accessibility_notes = TextAreaField(_l("Accessibility (optional)"))
    note = TextAreaField(_l("A note for the moderators (optional)"))
    # set after "is this the same group?": the organisation says it is a different one
    not_duplicate = HiddenField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()

    def error_list(self) -> list[tuple[str, str]]:
        """(box id, message) for the summary, schedules' boxes included."""
        out = [("", m) for m in self.form_errors]
        for f in self:
            if f.name == "schedules":
                for row in f:
                    for box in row.form:
                        out.extend((box.id, m) for m in box.errors)
            else:
                out.extend((f.id, m) for m in f.errors)
        return out

    def has_errors(self) -> bool:
        return bool(self.error_list())

    def box(self, box_id: str):
        """The field with this id ("postcode", "schedules-2-weekday"), or None."""
        for f in self:
            if f.name == "schedules":
                for row in f:
                    for b in row.form:
                        if b.id == box_id:
                            return b
            elif f.id == box_id:
                return f
        return None

    def add_field_error(self, box_id: str, message: str) -> None:
        box = self.box(box_id) if box_id else None
        if box is None:
            self.form_errors.append(message)
        else:
            box.errors = [*box.errors, message]


class _PageForm(AccountForm):
    def add_field_error(self, box: str, message: str) -> None:
        """A message next to the box named `box`, else at the top of the form."""
        field = getattr(self, box, None) if box else None
        if field is None:
            self.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]


class WithdrawForm(_PageForm):
    reason = TextAreaField(_l("Why is it ending? (optional, for the moderators)"))


class ClaimForm(_PageForm):
    organisation_id = HiddenField()
    note = TextAreaField(_l("How are you connected to this group? (for the moderators)"))


class RejectForm(_PageForm):
    reason = TextAreaField(_l("Reason (sent to the organisation)"))


class ActionForm(_PageForm):
    """A button that changes something: only the CSRF token."""
