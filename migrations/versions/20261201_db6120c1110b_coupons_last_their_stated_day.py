"""coupons last their stated day

Revision ID: db6120c1110b
Revises: 3e8449a5ed3f
Create Date: 2026-12-01 18:00:00.000000

A coupon's expiry was its issue time plus the offer's days (16:50 UTC, say), while its
email promised the whole day ("Valid until 1 March 2027"). Each coupon now lasts to the
end of the day it states in the clinic's time zone (the app's CLINIC_TIMEZONE, read as
the app reads it: ``flask db upgrade`` runs in the app, with the app's environment).
This only ever moves an expiry later, whatever the zone, so it cannot take away a day
a coupon was promised; run again, it changes nothing.
"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'db6120c1110b'
down_revision = '3e8449a5ed3f'
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

coupon = sa.table('coupon', sa.column('id', sa.Integer), sa.column('expires_at', sa.DateTime))


def upgrade():
    if op.get_context().as_sql:
        # The new expiry is computed from each row's, which offline SQL cannot read.
        logger.warning("offline mode: coupon expiries are left as they were")
        return
    from campaign import clinic  # the app's one clinic-time conversion; needs its context

    bind = op.get_bind()
    moved = []
    for row in bind.execute(sa.select(coupon.c.id, coupon.c.expires_at)):
        stated_day = clinic.local_time(row.expires_at).date()
        end = clinic.end_of_day(stated_day)
        if end != row.expires_at:
            moved.append({'coupon_id': row.id, 'end': end})
    if moved:
        bind.execute(
            coupon.update()
            .where(coupon.c.id == sa.bindparam('coupon_id'))
            .values(expires_at=sa.bindparam('end')),
            moved,
        )


def downgrade():
    # The issue times of day are not kept, and a longer expiry is the one emailed.
    pass
