"""unsubscribes credited to deliveries

Revision ID: d9f3a5b7c2e1
Revises: c8e2f4a6b1d3
Create Date: 2026-12-02 23:40:00.000000

The dashboard's "unsubscribes caused" was worked out from each reader's current
status, so a reader who signed up again (or was erased) dropped out of the count of
the newsletter they had left after. The unsubscribe is now written on that delivery
when it happens. Readers unsubscribed today are credited here by the old rule: the
last newsletter they got within 7 days before their unsubscribe.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd9f3a5b7c2e1'
down_revision = 'c8e2f4a6b1d3'
branch_labels = None
depends_on = None

CREDITED = sa.text("unsubscribed_at IS NOT NULL")
WEEK_BEFORE = {
    'postgresql': "s.unsubscribed_at - interval '7 days'",
    'sqlite': "datetime(s.unsubscribed_at, '-7 days')",
}
BACKFILL = """
UPDATE delivery
SET unsubscribed_at = (SELECT s.unsubscribed_at FROM subscriber s WHERE s.id = delivery.subscriber_id)
WHERE delivery.id IN (
    SELECT (
        SELECT d.id FROM delivery d
        WHERE d.subscriber_id = s.id AND d.status = 'sent'
          AND d.sent_at <= s.unsubscribed_at AND d.sent_at > {week_before}
        ORDER BY d.sent_at DESC, d.id DESC
        LIMIT 1
    )
    FROM subscriber s
    WHERE s.status = 'unsubscribed' AND s.unsubscribed_at IS NOT NULL
)
"""


def upgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(
            'ix_delivery_unsubscribes',
            ['campaign_id'],
            unique=False,
            sqlite_where=CREDITED,
            postgresql_where=CREDITED,
        )
    week_before = WEEK_BEFORE[op.get_bind().dialect.name]
    op.execute(BACKFILL.format(week_before=week_before))


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_unsubscribes')
        batch_op.drop_column('unsubscribed_at')
