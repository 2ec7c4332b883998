from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange


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
