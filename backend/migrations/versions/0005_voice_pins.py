"""voice pins

The phone assistant's voice PINs (hashed, with the wrong-PIN count and the lock) and the audit of voice access
(PIN set or changed, failed verifications, locks); messages queued for a sender (an article's link by SMS).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 18:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'voice_pins',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('pin_hash', sa.String(length=200), nullable=False),
        sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'voice_audit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('event', sa.String(length=30), nullable=False),
        sa.Column('caller', sa.String(length=50), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('voice_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_audit_user_id'), ['user_id'], unique=False)
    op.create_table(
        'outbound_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('medium', sa.String(length=10), nullable=False),
        sa.Column('to', sa.String(length=50), nullable=False),
        sa.Column('lang', sa.String(length=2), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('outbound_messages')
    with op.batch_alter_table('voice_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_audit_user_id'))
    op.drop_table('voice_audit')
    op.drop_table('voice_pins')
