"""security

Refresh tokens (single use, hashed) next to shorter access tokens; throttling counters (failed logins per account
and address, public access requests per address); voided meter readings and the audit of their corrections; the
payload hash an Idempotency-Key is bound to. An e-mail address is unique among users except pending invitations
(an invitation to an address another account has is answered like any other and can never be accepted).

Revision ID: 0006_security
Revises: 0005
Create Date: 2026-12-08 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0006_security'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'refresh_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('token_version', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_user_id'), ['user_id'], unique=False)
    op.create_table(
        'throttles',
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )

    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'meter_corrections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('reading_id', sa.Integer(), nullable=False),
        sa.Column('replacement_id', sa.Integer(), nullable=True),
        sa.Column('old_value', sa.BigInteger(), nullable=False),
        sa.Column('new_value', sa.BigInteger(), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('corrected_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reading_id'], ['meter_readings.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['replacement_id'], ['meter_readings.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['corrected_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('meter_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meter_corrections_meter_id'), ['meter_id'], unique=False)
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))
    _drop_email_unique()
    op.create_index('uq_users_email_registered', 'users', ['email'], unique=True,
                    sqlite_where=sa.text(REGISTERED_EMAIL), postgresql_where=sa.text(REGISTERED_EMAIL))
    op.create_index('uq_users_account_email', 'users', ['account_id', 'email'], unique=True)


REGISTERED_EMAIL = "status != 'pending' OR origin IS NULL OR origin != 'invitation'"  # backend/models.py
# 0001 left the constraint unnamed: PostgreSQL named it users_email_key, SQLite not at all (the table is rebuilt
# without it, foreign keys being off during migrations).
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _drop_email_unique() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('users', naming_convention=_SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint('uq_users_email', type_='unique')
    else:
        op.drop_constraint('users_email_key', 'users', type_='unique')


def _restore_email_unique() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('users', naming_convention=_SQLITE_NAMES) as batch_op:
            batch_op.create_unique_constraint('uq_users_email', ['email'])
    else:
        op.create_unique_constraint('users_email_key', 'users', ['email'])


def downgrade() -> None:
    op.drop_index('uq_users_account_email', table_name='users')
    op.drop_index('uq_users_email_registered', table_name='users')
    _restore_email_unique()  # fails while an invited address is also another account's user's
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_column('request_hash')
    with op.batch_alter_table('meter_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meter_corrections_meter_id'))
    op.drop_table('meter_corrections')
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.drop_column('voided_at')
    op.drop_table('throttles')
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_user_id'))
    op.drop_table('refresh_tokens')
