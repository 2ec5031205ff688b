"""The redaction log names the rule that found each span (the recognizer's rule or pattern, "id_label"), so a
compliance officer can see why a value was masked and tune the rules that misfire.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 07:50:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('redaction_event') as batch_op:
        batch_op.add_column(sa.Column('rule', sa.String(length=60), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('redaction_event') as batch_op:
        batch_op.drop_column('rule')
