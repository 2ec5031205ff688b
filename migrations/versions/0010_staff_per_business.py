"""Staff accounts belong to a business: an address is unique within a business, not across them (adding a
user no longer tells one business that another uses the address).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:45:00
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# 0008 created the address's unique constraint unnamed: SQLite's copy of the table gets this name for it.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    with op.batch_alter_table('staff_user', naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint(_old_unique(), type_='unique')
        batch_op.create_unique_constraint('uq_staff_user_business_email', ['business_id', 'email'])
        batch_op.create_index('ix_staff_user_email', ['email'])


def downgrade() -> None:
    with op.batch_alter_table('staff_user', naming_convention=_NAMES) as batch_op:
        batch_op.drop_index('ix_staff_user_email')
        batch_op.drop_constraint('uq_staff_user_business_email', type_='unique')
        batch_op.create_unique_constraint(_old_unique(), ['email'])


def _old_unique() -> str:
    return 'staff_user_email_key' if op.get_bind().dialect.name == 'postgresql' else 'uq_staff_user_email'
