"""coupon reminders

Revision ID: b5d1e7a2c4f9
Revises: a7c3e9f15b48
Create Date: 2026-12-02 12:00:00.000000

A coupon's holder is reminded of it once, ``offer.reminder_days`` before it expires.
Coupons issued before this have had no reminder, and get theirs when they come due.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5d1e7a2c4f9'
down_revision = 'a7c3e9f15b48'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('reminder_days', sa.Integer(), server_default='7', nullable=False)
        )
    with op.batch_alter_table('coupon', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_taken_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reminder_sent_at', sa.DateTime(), nullable=True))


def downgrade():
    # ALTER TABLE ... DROP COLUMN, never a copy of the table: SQLite would refuse to
    # drop an offer or coupon table that other rows' foreign keys point at.
    with op.batch_alter_table('coupon', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('reminder_sent_at')
        batch_op.drop_column('reminder_taken_at')
    with op.batch_alter_table('offer', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('reminder_days')
