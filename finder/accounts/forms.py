"""The accounts forms (Flask-WTF: every one carries a CSRF token). The rules themselves live
in `users`, `organisations` and `api_tokens`, shared with the command line."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField, URLField

from finder.accounts.errors import AccountError


class AccountForm(FlaskForm):
    def add_error(self, exc: AccountError) -> None:
        field = getattr(self, exc.field, None)
        if field is None:
            self.form_errors.append(exc.message)
        else:
            field.errors = [*field.errors, exc.message]

    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(f.errors for f in self)

    def error_list(self) -> list[tuple[str, str]]:
        """(field id, message) for the summary at the top of the form."""
        out = [("", m) for m in self.form_errors]
        for f in self:
            out.extend((f.id, m) for m in f.errors)
        return out


class SignUpForm(AccountForm):
    email = EmailField("Email address")
    password = PasswordField("Password")
    organisation_name = StringField("Your organisation's name (optional)")
    website = URLField("Its website (optional)")


class SignInForm(AccountForm):
    email = EmailField("Email address")
    password = PasswordField("Password")
    next = HiddenField()


class ForgotPasswordForm(AccountForm):
    email = EmailField("Email address")


class NewPasswordForm(AccountForm):
    password = PasswordField("New password")


class OrganisationForm(AccountForm):
    organisation_name = StringField("Organisation name")
    website = URLField("Website (optional)")


class InviteForm(AccountForm):
    email = EmailField("Their email address")


class TokenForm(AccountForm):
    name = StringField("What will use this token?")


class ActionForm(AccountForm):
    """A button that changes something (sign out, revoke, accept): only the CSRF token."""
