"""The organisations' and moderators' forms (Flask-WTF: each carries a CSRF token).

Every box is a text box or a choice kept as typed: the forms judge nothing but the CSRF
token. `finder.submissions.form_payload` turns the group form into the API's payload, whose
one validation names each problem; the views put those messages next to their boxes.
"""

from __future__ import annotations

from babel import Locale
from flask_babel import lazy_gettext
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

WEEKDAYS = [("0", lazy_gettext("Monday")), ("1", lazy_gettext("Tuesday")),
            ("2", lazy_gettext("Wednesday")), ("3", lazy_gettext("Thursday")),
            ("4", lazy_gettext("Friday")), ("5", lazy_gettext("Saturday")),
            ("6", lazy_gettext("Sunday"))]
REPEAT_CHOICES = [("weekly", lazy_gettext("Every week")),
                  ("weekly:2", lazy_gettext("Every other week")),
                  ("weekly:3", lazy_gettext("Every 3 weeks")),
                  ("weekly:4", lazy_gettext("Every 4 weeks")),
                  ("monthly", lazy_gettext("Once a month"))]
WEEK_OF_MONTH = [("", lazy_gettext("(for monthly meetings)")), ("1", lazy_gettext("First")),
                 ("2", lazy_gettext("Second")), ("3", lazy_gettext("Third")),
                 ("4", lazy_gettext("Fourth")), ("-1", lazy_gettext("Last"))]
# the first empty rows of the form; "Add another meeting time" adds one more
SPARE_SCHEDULE_ROWS = 1
MAX_SCHEDULE_ROWS = 20


def _choices(v: vocab.Vocabulary) -> list[tuple[str, str]]:
    return [(code, lazy_gettext(label)) for code, label in v.labels.items()]


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

    repeat = _select(lazy_gettext("How often"), REPEAT_CHOICES, default="weekly")
    week_of_month = _select(lazy_gettext("Which week of the month"), WEEK_OF_MONTH, default="")
    weekday = _select(lazy_gettext("Day"), [("", lazy_gettext("Choose a day"))] + WEEKDAYS,
                      default="")
    start_time = StringField(lazy_gettext("Starts at"))
    duration_minutes = StringField(lazy_gettext("Length in minutes"), default="90")
    valid_from = StringField(lazy_gettext("From (optional)"))
    valid_until = StringField(lazy_gettext("Until (optional)"))
    cancelled_dates = StringField(lazy_gettext("Dates it will not meet (optional)"))
    remove = BooleanField(lazy_gettext("Remove this meeting time"))


class GroupForm(AccountForm):
    """Every field of a listing, in the order people think of them."""

    name = StringField(lazy_gettext("Name of the group"))
    description = TextAreaField(lazy_gettext("What happens at the group"))
    format = RadioField(lazy_gettext("How does it meet?"), choices=_choices(vocab.FORMAT),
                        validate_choice=False)
    venue_name = StringField(lazy_gettext("Venue name (optional)"))
    address_line1 = StringField(lazy_gettext("Address"))
    address_line2 = StringField(lazy_gettext("Address, second line (optional)"))
    town = StringField(lazy_gettext("Town or city"))
    region = StringField(lazy_gettext("County, state or region (optional)"))
    postcode = StringField(lazy_gettext("Postcode or ZIP code"))
    country = _select(lazy_gettext("Country"), [])
    timezone = StringField(lazy_gettext("Time zone of the meetings"))
    service_anywhere = BooleanField(lazy_gettext("Open to people anywhere in the world"))
    service_countries = StringField(lazy_gettext("Or: the countries it is open to"))
    schedules = FieldList(FormField(ScheduleForm), min_entries=1,
                          max_entries=MAX_SCHEDULE_ROWS)
    join_mode = RadioField(lazy_gettext("How do people join?"), choices=_choices(vocab.JOIN),
                           validate_choice=False)
    join_url = StringField(lazy_gettext("Link to join or register (optional)"))
    join_phone = StringField(lazy_gettext("Phone number (optional)"))
    join_email = StringField(lazy_gettext("Email address (optional)"))
    join_notes = TextAreaField(
        lazy_gettext("Anything else people should know before coming (optional)"))
    loss_types = SelectMultipleField(lazy_gettext("Kinds of loss it supports"),
                                     choices=_choices(vocab.LOSS), validate_choice=False)
    audiences = SelectMultipleField(lazy_gettext("Who it is for"),
                                    choices=_choices(vocab.AUDIENCE), validate_choice=False)
    languages = SelectMultipleField(lazy_gettext("Languages spoken"),
                                    choices=_choices(vocab.LANGUAGE), validate_choice=False)
    cost = RadioField(lazy_gettext("Cost"), choices=_choices(vocab.COST), validate_choice=False)
    facilitation = RadioField(lazy_gettext("Who leads it"), choices=_choices(vocab.FACILITATION),
                              validate_choice=False)
    accessibility_notes = TextAreaField(lazy_gettext("Accessibility (optional)"))
    note = TextAreaField(lazy_gettext("A note for the moderators (optional)"))
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
    reason = TextAreaField(lazy_gettext("Why is it ending? (optional, for the moderators)"))


class ClaimForm(_PageForm):
    organisation_id = HiddenField()
    note = TextAreaField(lazy_gettext("How are you connected to this group? (for the moderators)"))


class RejectForm(_PageForm):
    reason = TextAreaField(lazy_gettext("Reason (sent to the organisation)"))


class ActionForm(_PageForm):
    """A button that changes something: only the CSRF token."""
