"""the text part for readers without a coupon, frozen with the others

Revision ID: f4b2d8a6c913
Revises: e3a1c7d94b20
Create Date: 2026-12-01 15:20:00.000000

Campaigns frozen before it keep NULL: their coupon parts are cut out of text_frozen.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4b2d8a6c913'
down_revision = 'e3a1c7d94b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_frozen_without_coupon', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('text_frozen_without_coupon')
