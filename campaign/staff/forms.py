from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

ROLE_CHOICES = [SelectChoice(role, role) for role in ("receptionist", "marketing", "admin")]
# Where a role is chosen for a new account, what each allows.
DESCRIBED_ROLE_CHOICES = [
    SelectChoice("receptionist", "Receptionist: the front desk"),
    SelectChoice("marketing", "Marketing: newsletters, subscribers, the dashboard and the desk"),
    SelectChoice("admin", "Admin: everything, staff accounts and the offer included"),
]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class OfferForm(FlaskForm):
    title = StringField("What the coupon gives", validators=[DataRequired(), Length(max=100)])
    terms = TextAreaField("Terms", validators=[Length(max=1000)])
    validity_days = IntegerField(
        "Valid for (days)", validators=[DataRequired(), NumberRange(min=1, max=3650)]
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])


class AddStaffForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name shown at the desk", validators=[Optional(), Length(max=100)])
    role = SelectField("Role", choices=DESCRIBED_ROLE_CHOICES, default="receptionist")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
