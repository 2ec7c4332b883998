"""a signup again waits for its round's confirmation

Revision ID: a7c3e9f15b48
Revises: db6120c1110b
Create Date: 2026-12-02 09:00:00.000000

A signup for an address already on the list no longer rewrites the person's row: the
address as typed and the first name wait in the new round's consent record until that
round is confirmed. An unsubscribe now ends the opt-in round (NULL), so that an
unsubscribed row with a round means "a signup since waits for its confirmation": rows
unsubscribed before this had no such signup, and their rounds end here, or a link from
before the unsubscribe would confirm them again. Bounced rows alike: a bounce now ends
the round, and a signup confirmed from the address brings it back.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9f15b48'
down_revision = 'db6120c1110b'
branch_labels = None
depends_on = None

subscriber = sa.table(
    'subscriber',
    sa.column('id', sa.Integer),
    sa.column('status', sa.String),
    sa.column('optin_round', sa.Integer),
)
consent_record = sa.table(
    'consent_record', sa.column('id', sa.Integer), sa.column('subscriber_id', sa.Integer)
)


def upgrade():
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('first_name', sa.String(length=100), nullable=True))
    op.execute(
        subscriber.update()
        .where(subscriber.c.status.in_(['unsubscribed', 'bounced']))
        .values(optin_round=None)
    )


def downgrade():
    # The code before numbered a signup's round as the last one plus 1: from NULL that
    # is 1, a new address's first round, whose old links would then confirm it. The
    # latest consent record's id is at or above every round the row has had (1 if it
    # has none: the next round is 2 then).
    latest = (
        sa.select(sa.func.max(consent_record.c.id))
        .where(consent_record.c.subscriber_id == subscriber.c.id)
        .scalar_subquery()
    )
    op.execute(
        subscriber.update()
        .where(
            subscriber.c.status.in_(['unsubscribed', 'bounced']),
            subscriber.c.optin_round.is_(None),
        )
        .values(optin_round=sa.func.coalesce(latest, 1))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_column('first_name')
        batch_op.drop_column('email')
