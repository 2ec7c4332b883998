"""coupon keeps its offer wording

Revision ID: 9c4f2b7e1a05
Revises: 5b0c8e41d2a7
Create Date: 2026-12-01 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c4f2b7e1a05'
down_revision = '5b0c8e41d2a7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('coupon', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_title', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('offer_terms', sa.Text(), server_default='', nullable=False))
    # Coupons issued before promised what their offer says now: the best record there is.
    op.execute(
        "UPDATE coupon SET"
        " offer_title = (SELECT title FROM offer WHERE offer.id = coupon.offer_id),"
        " offer_terms = (SELECT terms FROM offer WHERE offer.id = coupon.offer_id)"
    )


def downgrade():
    with op.batch_alter_table('coupon', schema=None) as batch_op:
        batch_op.drop_column('offer_terms')
        batch_op.drop_column('offer_title')
