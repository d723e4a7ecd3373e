"""service profiles

Revision ID: 5e7a1c2b9f40
Revises: f7e1a2b3c4d5
Create Date: 2026-12-02 03:24:28.667565

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e7a1c2b9f40'
down_revision = 'f7e1a2b3c4d5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('service_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('jurisdictions', sa.JSON(), nullable=False),
    sa.Column('monthly_users', sa.JSON(), nullable=False),
    sa.Column('child_access', sa.Enum('unlikely', 'likely', 'known', 'directed', name='child_access', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('minimum_age', sa.Integer(), nullable=True),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('company_size', sa.Enum('micro', 'small', 'medium', 'large', name='company_size', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('minimum_age IS NULL OR (minimum_age >= 0 AND minimum_age <= 21)', name=op.f('ck_service_profiles_minimum_age')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_profiles')),
    sa.UniqueConstraint('name', name=op.f('uq_service_profiles_name'))
    )


def downgrade():
    op.drop_table('service_profiles')
