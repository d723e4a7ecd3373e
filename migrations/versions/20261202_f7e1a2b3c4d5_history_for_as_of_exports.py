"""history for as-of exports

Snapshot tables of instruments, obligations, controls and mappings (compliance/exports/models.py),
filled from then on by a session listener (compliance/exports/history.py). Rows that exist
already get one snapshot each, dated when the row was created: nothing older is known, so an
as-of date between a row's creation and its last edit before this migration shows its
current content.

Revision ID: f7e1a2b3c4d5
Revises: d34a7c5bd5ee
Create Date: 2026-12-02 03:24:08.062458

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7e1a2b3c4d5'
down_revision = 'd34a7c5bd5ee'
branch_labels = None
depends_on = None


def _common(key):
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(key, sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted', sa.Boolean(), nullable=False),
    ]


def _indexes(table, key):
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{table}_{key}'), [key], unique=False)
        batch_op.create_index(batch_op.f(f'ix_{table}_recorded_at'), ['recorded_at'], unique=False)


def upgrade():
    op.create_table('control_mapping_versions',
    *_common('mapping_id'),
    sa.Column('obligation_id', sa.Integer(), nullable=False),
    sa.Column('control_id', sa.Integer(), nullable=False),
    sa.Column('relationship', sa.String(length=40), nullable=False),
    sa.Column('strength', sa.Integer(), nullable=False),
    sa.Column('rationale_type', sa.String(length=40), nullable=False),
    sa.Column('coverage', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('approved_by', sa.String(length=254), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_mapping_versions'))
    )
    _indexes('control_mapping_versions', 'mapping_id')

    op.create_table('control_versions',
    *_common('control_id'),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('domain', sa.String(length=40), nullable=False),
    sa.Column('owner_team', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('last_reviewed_on', sa.Date(), nullable=True),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_versions'))
    )
    _indexes('control_versions', 'control_id')

    op.create_table('obligation_versions',
    *_common('obligation_id'),
    sa.Column('regulation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('ref', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('topics', sa.Text(), nullable=False),
    sa.Column('no_control_reason', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_obligation_versions'))
    )
    _indexes('obligation_versions', 'obligation_id')

    op.create_table('regulation_versions',
    *_common('regulation_id'),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('short_title', sa.String(length=200), nullable=False),
    sa.Column('citation', sa.String(length=300), nullable=False),
    sa.Column('jurisdiction', sa.String(length=20), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulation_versions'))
    )
    _indexes('regulation_versions', 'regulation_id')
    _backfill()


def _backfill():
    # One snapshot of every existing row, dated at its creation (see the docstring).
    joined = "string_agg" if op.get_bind().dialect.name == "postgresql" else "group_concat"
    op.execute(
        "INSERT INTO regulation_versions (regulation_id, recorded_at, deleted, slug, short_title,"
        " citation, jurisdiction, content_hash, retired)"
        " SELECT r.id, r.created_at, false, r.slug, r.short_title, r.citation, j.code,"
        " r.content_hash, r.retired_at IS NOT NULL"
        " FROM regulations r JOIN jurisdictions j ON j.id = r.jurisdiction_id"
    )
    op.execute(
        "INSERT INTO obligation_versions (obligation_id, recorded_at, deleted, regulation_id, key,"
        " ref, title, summary, topics, no_control_reason, position, retired)"
        " SELECT o.id, o.created_at, false, o.regulation_id, o.key, o.ref, o.title, o.summary,"
        f" ' ' || COALESCE((SELECT {joined}(t.slug, ' ') FROM obligation_topics ot"
        "   JOIN topics t ON t.id = ot.topic_id WHERE ot.obligation_id = o.id), '') || ' ',"
        " o.no_control_reason, o.position, o.retired_at IS NOT NULL"
        " FROM obligations o"
    )
    op.execute(
        "INSERT INTO control_versions (control_id, recorded_at, deleted, code, title, description,"
        " domain, owner_team, status, last_reviewed_on, retired)"
        " SELECT c.id, c.created_at, false, c.code, c.title, c.description, c.domain,"
        " c.owner_team, c.status, c.last_reviewed_on, c.retired_at IS NOT NULL FROM controls c"
    )
    op.execute(
        "INSERT INTO control_mapping_versions (mapping_id, recorded_at, deleted, obligation_id,"
        " control_id, relationship, strength, rationale_type, coverage, note, state, approved_by,"
        " approved_at)"
        " SELECT m.id, m.created_at, false, m.obligation_id, m.control_id, m.relationship,"
        " m.strength, m.rationale_type, m.coverage, m.note, m.state, u.email, m.approved_at"
        " FROM control_mappings m LEFT JOIN users u ON u.id = m.approved_by_id"
    )


def downgrade():
    for table, key in (
        ('regulation_versions', 'regulation_id'),
        ('obligation_versions', 'obligation_id'),
        ('control_versions', 'control_id'),
        ('control_mapping_versions', 'mapping_id'),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_recorded_at'))
            batch_op.drop_index(batch_op.f(f'ix_{table}_{key}'))
        op.drop_table(table)
