"""Why the bot answered: a bot reply keeps the passages it came from (document, section, score), and an agent
can flag a reply as wrong (its question then joins the unanswered ones the suggestions are made of).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 11:45:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message') as batch_op:
        batch_op.add_column(sa.Column('evidence', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('flagged_wrong_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('message') as batch_op:
        batch_op.drop_column('flagged_wrong_at')
        batch_op.drop_column('evidence')
