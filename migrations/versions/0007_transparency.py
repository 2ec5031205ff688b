"""transparency: data-subject requests, the first-contact privacy notice, handoff reasons per turn

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:12:40.311825
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_subject_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['business.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('data_subject_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_subject_request_business_id'), ['business_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_subject_request_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_subject_request_status'), ['status'], unique=False)

    with op.batch_alter_table('assistant_policy', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('privacy_notice_enabled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column('privacy_notice', sqlmodel.sql.sqltypes.AutoString(length=1000), server_default='', nullable=False)
        )
        batch_op.add_column(
            sa.Column('compliance_contact', sqlmodel.sql.sqltypes.AutoString(length=200), server_default='', nullable=False)
        )

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('privacy_notice_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handoff_reason', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('handoff_reason')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('privacy_notice_at')

    with op.batch_alter_table('assistant_policy', schema=None) as batch_op:
        batch_op.drop_column('compliance_contact')
        batch_op.drop_column('privacy_notice')
        batch_op.drop_column('privacy_notice_enabled')

    with op.batch_alter_table('data_subject_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_subject_request_status'))
        batch_op.drop_index(batch_op.f('ix_data_subject_request_contact_id'))
        batch_op.drop_index(batch_op.f('ix_data_subject_request_business_id'))

    op.drop_table('data_subject_request')
