from flask import request
from flask_wtf import FlaskForm
from werkzeug.datastructures import CombinedMultiDict
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from campaign.emails import header_safe
from campaign.subscribers.addresses import has_control_characters

ROLE_CHOICES = [SelectChoice(role, role) for role in ("receptionist", "marketing", "admin")]
NO_LOGO = SelectChoice("", "No logo: the clinic's name")
# Where a role is chosen for a new account, what each allows.
DESCRIBED_ROLE_CHOICES = [
    SelectChoice("receptionist", "Receptionist: the front desk"),
    SelectChoice("marketing", "Marketing: newsletters, subscribers, the dashboard and the desk"),
    SelectChoice("admin", "Admin: everything, staff accounts and the offer included"),
]


class TextForm(FlaskForm):
    """A form of text fields only. Flask-WTF reads uploaded files as fields too, and a
    file posted under a field's name ("email") reached the validators as a file, which
    they cannot measure (a 500): here only the form's text is read."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            data = super().wrap_formdata(form, formdata)
            return request.form if isinstance(data, CombinedMultiDict) else data


class LoginForm(TextForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def plain_text(lines: bool = False):
    """A validator: no control characters (line breaks too, unless ``lines``). The
    offer's title goes into the welcome email's subject, where a line break would be
    refused at send time and the welcome lost."""

    def check(form, field) -> None:
        text = field.data or ""
        if lines:
            text = text.replace("\r\n", "").replace("\n", "")
        if has_control_characters(text) or not header_safe(text):
            raise ValidationError(
                "Use text only: no line breaks, control characters or '=?'."
                if not lines
                else "Use text only: no control characters."
            )

    return check


class TokenForm(TextForm):
    name = StringField(
        "Name",
        filters=[lambda text: text.strip() if text else text],
        validators=[
            DataRequired("Give the token a name, e.g. what will use it."),
            Length(max=100, message="Keep the name to 100 characters."),
            plain_text(),
        ],
    )


class DaysField(IntegerField):
    """A number of days. What is not a whole number gets one message that says so,
    not that message and every range check's besides (they cannot judge nothing)."""

    def __init__(self, label=None, validators=None, **kwargs) -> None:
        kwargs.setdefault("invalid_value_message", "Enter a whole number of days.")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        # Only spaces is nothing typed: InputRequired, which reads raw_data, says so.
        self.raw_data = [value.strip() for value in valuelist]
        super().process_formdata(self.raw_data)

    def pre_validate(self, form) -> None:
        if self.process_errors and self.raw_data and self.raw_data[0]:
            raise StopValidation


class OfferForm(TextForm):
    active = BooleanField("Give each new subscriber this coupon")
    title = StringField(
        "What the coupon gives", validators=[DataRequired(), Length(max=100), plain_text()]
    )
    terms = TextAreaField("Terms", validators=[Length(max=1000), plain_text(lines=True)])
    validity_days = DaysField(
        "Valid for (days)",
        validators=[
            InputRequired("Enter a number of days."),
            NumberRange(min=1, max=3650, message="A coupon is valid for 1 to 3650 days."),
        ],
    )
    reminder_days = DaysField(
        "Remind the holder (days before it expires)",
        validators=[
            InputRequired("Enter a number of days (0: no reminder)."),
            NumberRange(min=0, max=365, message="Enter 0 to 365 days (0: no reminder)."),
        ],
    )

    def validate_reminder_days(self, field) -> None:
        # The reminder never comes in a coupon's first ``reminder_days`` (reminders.py):
        # past half its life, it would come later than asked, or never.
        days = self.validity_days.data
        if not field.data or days is None or days < 1:  # the validity has its own message
            return
        most = days // 2
        if most == 0:
            raise ValidationError("A coupon valid for 1 day is too short to remind of: enter 0.")
        if field.data > most:
            raise ValidationError(
                f"A coupon valid for {days} days can be reminded of at most {most} "
                f"{'day' if most == 1 else 'days'} before it ends (half its life), or 0 for "
                "no reminder."
            )


class ForgotPasswordForm(TextForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class SetPasswordForm(TextForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])


class AddStaffForm(TextForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name shown at the desk", validators=[Optional(), Length(max=100)])
    role = SelectField("Role", choices=DESCRIBED_ROLE_CHOICES, default="receptionist")


class NameForm(TextForm):
    """A new name at the desk, for one's own account or (admins) a member's."""

    name = StringField("Name shown at the desk", validators=[Optional(), Length(max=100)])


class RoleForm(TextForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ClinicForm(TextForm):
    name = StringField("Clinic name", validators=[DataRequired(), Length(max=100)])
    postal_address = StringField("Postal address", validators=[DataRequired(), Length(max=200)])
    reply_to = StringField("Replies go to", validators=[Optional(), Length(max=254)])
    # The choices are the clinic's images (set by the view); the service checks the name.
    logo = SelectField("Logo", choices=[NO_LOGO], validate_choice=False)
    colour = StringField("Colour", validators=[Optional(), Length(max=7)])
