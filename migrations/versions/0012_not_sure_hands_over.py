"""A business chooses what a "not sure" does: offer a person and go on answering (the default), or hand the
conversation over at once (`assistant_policy.not_sure_hands_over`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assistant_policy') as batch_op:
        batch_op.add_column(
            sa.Column('not_sure_hands_over', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('assistant_policy') as batch_op:
        batch_op.drop_column('not_sure_hands_over')
