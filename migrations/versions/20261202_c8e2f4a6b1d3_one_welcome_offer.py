"""one welcome offer

Revision ID: c8e2f4a6b1d3
Revises: b5d1e7a2c4f9
Create Date: 2026-12-02 13:00:00.000000

The welcome offer was made on first use by whichever worker came first, and the first
confirmations of an install, handled side by side, could each make one: every later
coupon went to the newest, so a person whose coupon sat under another was issued a
second. A unique index now keeps one. Where an install has several, the newest (the
one the offer page edits) stays the welcome offer and takes over the others' coupons,
except a second coupon of someone it already holds one of: both were sent and stay
good, on the older offer, renamed ``welcome_extra`` and reminded of no more (its
holders are reminded of the one they hold under the welcome offer). Offers left
empty go.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8e2f4a6b1d3'
down_revision = 'b5d1e7a2c4f9'
branch_labels = None
depends_on = None

offer = sa.table(
    'offer',
    sa.column('id', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('reminder_days', sa.Integer),
)
coupon = sa.table(
    'coupon',
    sa.column('id', sa.Integer),
    sa.column('offer_id', sa.Integer),
    sa.column('owner_key', sa.String),
)
ONE_WELCOME = sa.text("kind = 'welcome'")


def upgrade():
    bind = op.get_bind()
    newest_first = (
        sa.select(offer.c.id).where(offer.c.kind == 'welcome').order_by(offer.c.id.desc())
    )
    welcome_ids = bind.execute(newest_first).scalars().all()
    if len(welcome_ids) > 1:
        keep, *others = welcome_ids
        for other in others:  # one by one: a person may hold a coupon under two of them
            held = sa.select(coupon.c.owner_key).where(coupon.c.offer_id == keep)
            bind.execute(
                coupon.update()
                .where(coupon.c.offer_id == other, coupon.c.owner_key.not_in(held))
                .values(offer_id=keep)
            )
        in_use = sa.select(coupon.c.offer_id).where(coupon.c.offer_id.in_(others))
        bind.execute(offer.delete().where(offer.c.id.in_(others), offer.c.id.not_in(in_use)))
        bind.execute(
            offer.update()
            .where(offer.c.id.in_(others))
            .values(kind='welcome_extra', reminder_days=0)
        )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(
            'uq_offer_one_welcome',
            ['kind'],
            unique=True,
            sqlite_where=ONE_WELCOME,
            postgresql_where=ONE_WELCOME,
        )


def downgrade():
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index('uq_offer_one_welcome')
