"""The dashboard: growth, campaign results and redemptions at a glance."""

from __future__ import annotations

from flask import Blueprint, render_template

from campaign.dashboard import panels, services
from campaign.staff.auth import page_role_required
from campaign.staff.models import Role

bp = Blueprint("dashboard", __name__, url_prefix="/staff/dashboard", template_folder="templates")


@bp.get("/")
@page_role_required(Role.MARKETING)
def index():
    figures = services.dashboard()
    return render_template(
        "dashboard/index.html",
        figures=figures,
        headlines=panels.headlines(figures),
        charts=panels.all_charts(figures),
    )
