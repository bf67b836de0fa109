"""teams links

Teams users linked to portal users (tenant id, AAD object id), the tenant each account is bound to (one tenant, one
account) and the single-use link codes of the sign-in card with the confirmation number the Teams user types back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'teams_tenants',
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id'),
        sa.UniqueConstraint('account_id'),
    )
    op.create_table(
        'teams_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('aad_object_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['teams_tenants.tenant_id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tenant_id', 'aad_object_id'),
        sa.UniqueConstraint('user_id'),
    )
    with op.batch_alter_table('teams_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_links_tenant_id'), ['tenant_id'], unique=False)
    op.create_table(
        'teams_link_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('aad_object_id', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('confirm_hash', sa.String(length=64), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
    )


def downgrade() -> None:
    op.drop_table('teams_link_codes')
    with op.batch_alter_table('teams_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_links_tenant_id'))
    op.drop_table('teams_links')
    op.drop_table('teams_tenants')
