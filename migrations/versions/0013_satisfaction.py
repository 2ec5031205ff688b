"""Satisfaction: a resolved conversation's 1-5 rating, asked at most once, and the business setting that
turns the question off (on by default, for the businesses already there too).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('agent_user_id', sa.Integer(), nullable=True),
    sa.Column('asked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=True),
    sa.Column('rated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agent_user_id'], ['staff_user.id'], ),
    sa.ForeignKeyConstraint(['business_id'], ['business.id'], ),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id')
    )
    with op.batch_alter_table('conversation_rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_rating_agent_user_id'), ['agent_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_rating_business_id'), ['business_id'], unique=False)

    with op.batch_alter_table('assistant_policy', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('satisfaction_survey_enabled', sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('assistant_policy', schema=None) as batch_op:
        batch_op.drop_column('satisfaction_survey_enabled')

    with op.batch_alter_table('conversation_rating', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_rating_business_id'))
        batch_op.drop_index(batch_op.f('ix_conversation_rating_agent_user_id'))

    op.drop_table('conversation_rating')
