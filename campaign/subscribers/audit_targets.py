"""What an audit event was about, as an admin reads it: "June news", not "campaign:3".

Events name their target as ``kind:id`` (``audit.record``). The log page shows each as
the thing's name, linked to its page where it has one, with a few queries for the
whole page (one per kind shown), never one per row. A target whose row is gone (an
erased person, a deleted image) says so; kinds without a row of their own (a login
address, a session) are shown as they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import select

from campaign.campaigns.models import Campaign
from campaign.coupons.models import Coupon
from campaign.database import MAX_ID
from campaign.extensions import db
from campaign.images.models import Image
from campaign.staff.models import Staff
from campaign.subscribers.imports import ImportJob
from campaign.subscribers.models import Subscriber


@dataclass(frozen=True)
class Target:
    label: str
    url: str | None = None


def _campaigns(ids: list[int]) -> dict[int, Target]:
    rows = db.session.execute(select(Campaign.id, Campaign.subject).where(Campaign.id.in_(ids)))
    return {
        row.id: Target(row.subject, url_for("campaigns.edit", campaign_id=row.id)) for row in rows
    }


def _subscribers(ids: list[int]) -> dict[int, Target]:
    rows = db.session.execute(select(Subscriber.id, Subscriber.email).where(Subscriber.id.in_(ids)))
    return {
        row.id: Target(row.email, url_for("subscriber_pages.detail", subscriber_id=row.id))
        for row in rows
    }


def _coupons(ids: list[int]) -> dict[int, Target]:
    # A coupon has no page: its owner's shows it, with its redemptions.
    rows = db.session.execute(
        select(Coupon.id, Coupon.offer_title, Subscriber.id.label("owner"), Subscriber.email)
        .join(Subscriber, Subscriber.id == Coupon.subscriber_id, isouter=True)
        .where(Coupon.id.in_(ids))
    )
    return {
        row.id: Target(
            f"{row.offer_title or 'Coupon'} of {row.email}"
            if row.owner
            else f"{row.offer_title or 'Coupon'} of an erased subscriber",
            url_for("subscriber_pages.detail", subscriber_id=row.owner) if row.owner else None,
        )
        for row in rows
    }


def _staff(ids: list[int]) -> dict[int, Target]:
    rows = db.session.execute(select(Staff.id, Staff.email).where(Staff.id.in_(ids)))
    return {row.id: Target(row.email, url_for("team.index")) for row in rows}


def _images(ids: list[int]) -> dict[int, Target]:
    rows = db.session.execute(select(Image.id, Image.original_name).where(Image.id.in_(ids)))
    return {
        row.id: Target(row.original_name or f"Image {row.id}", url_for("images.index"))
        for row in rows
    }


def _imports(ids: list[int]) -> dict[int, Target]:
    rows = db.session.execute(select(ImportJob.id, ImportJob.filename).where(ImportJob.id.in_(ids)))
    return {
        row.id: Target(
            f"Import of {row.filename}", url_for("subscriber_pages.import_job", job_id=row.id)
        )
        for row in rows
    }


# kind -> (names the ids found, what a target whose row is gone reads)
KINDS: dict[str, tuple[Callable[[list[int]], dict[int, Target]], str]] = {
    "campaign": (_campaigns, "a deleted newsletter"),
    "subscriber": (_subscribers, "an erased subscriber"),
    "coupon": (_coupons, "a coupon of an erased subscriber"),
    "staff": (_staff, "a removed staff account"),
    "image": (_images, "a deleted image"),
    "import": (_imports, "a removed import"),
}


def _split(target: str) -> tuple[str, int] | None:
    kind, _, ident = target.partition(":")
    if kind in KINDS and ident.isascii() and ident.isdigit() and 0 < int(ident) <= MAX_ID:
        return kind, int(ident)
    return None


def describe(targets: Iterable[str | None]) -> dict[str, Target]:
    """Each target of ours, as a name and a link; others are left out (shown raw)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for target in targets:
        if target and (split := _split(target)):
            wanted[split[0]].add(split[1])
    described: dict[str, Target] = {}
    for kind, ids in wanted.items():
        lookup, gone = KINDS[kind]
        found = lookup(sorted(ids))
        for ident in ids:
            described[f"{kind}:{ident}"] = found.get(ident) or Target(gone)
    return described
