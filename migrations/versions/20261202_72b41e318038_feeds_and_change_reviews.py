"""feeds and change reviews: feed sources, entries, revisions, reviews, matches, history

Revision ID: 72b41e318038
Revises: 5e7a1c2b9f40
Create Date: 2026-12-02 04:04:36.967481

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '72b41e318038'
down_revision = '5e7a1c2b9f40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('catalogue_url', sa.String(length=1000), nullable=True),
    sa.Column('origin', sa.Enum('catalogue', 'admin', name='feed_origin', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('regulator_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.Text(), nullable=False),
    sa.Column('interval_minutes', sa.Integer(), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=False),
    sa.Column('last_modified', sa.String(length=100), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('next_poll_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Enum('never', 'ok', 'not-modified', 'unchanged', 'failed', 'refused', 'gone', name='feed_poll_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('last_http_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('seed_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('consecutive_failures >= 0', name=op.f('ck_feed_sources_failures')),
    sa.CheckConstraint('interval_minutes > 0', name=op.f('ck_feed_sources_interval')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_feed_sources_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['regulator_id'], ['regulators.id'], name=op.f('fk_feed_sources_regulator_id_regulators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_sources')),
    sa.UniqueConstraint('catalogue_url', name=op.f('uq_feed_sources_catalogue_url'))
    )
    with op.batch_alter_table('feed_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_sources_next_poll_at'), ['next_poll_at'], unique=False)

    op.create_table('feed_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('identity_key', sa.String(length=80), nullable=False),
    sa.Column('guid', sa.String(length=500), nullable=False),
    sa.Column('link', sa.String(length=1000), nullable=False),
    sa.Column('link_key', sa.String(length=64), nullable=False),
    sa.Column('title_key', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('summary_html', sa.Text(), nullable=False),
    sa.Column('summary_text', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('relevance', sa.Float(), nullable=False),
    sa.Column('matches', sa.JSON(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revised_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['feed_sources.id'], name=op.f('fk_feed_entries_source_id_feed_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_entries')),
    sa.UniqueConstraint('source_id', 'identity_key', name=op.f('uq_feed_entries_source_id_identity_key'))
    )
    with op.batch_alter_table('feed_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_entries_first_seen_at'), ['first_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feed_entries_source_id'), ['source_id'], unique=False)
        batch_op.create_index('ix_feed_entries_source_link_key', ['source_id', 'link_key'], unique=False)
        batch_op.create_index('ix_feed_entries_source_title_key', ['source_id', 'title_key'], unique=False)

    op.create_table('change_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('new', 'triaged', 'assessing', 'action-required', 'no-action', 'closed', name='review_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('promoted', sa.Boolean(), nullable=False),
    sa.Column('seen_revision', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_change_reviews_assignee_id_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['feed_entries.id'], name=op.f('fk_change_reviews_entry_id_feed_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_reviews')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_change_reviews_entry_id'))
    )
    with op.batch_alter_table('change_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_reviews_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_reviews_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_reviews_state'), ['state'], unique=False)

    op.create_table('feed_entry_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('link', sa.String(length=1000), nullable=False),
    sa.Column('summary_html', sa.Text(), nullable=False),
    sa.Column('summary_text', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['feed_entries.id'], name=op.f('fk_feed_entry_revisions_entry_id_feed_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_entry_revisions')),
    sa.UniqueConstraint('entry_id', 'number', name=op.f('uq_feed_entry_revisions_entry_id_number'))
    )
    with op.batch_alter_table('feed_entry_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_entry_revisions_entry_id'), ['entry_id'], unique=False)

    op.create_table('review_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.Enum('opened', 'moved', 'assigned', 'due', 'note', 'revised', 'rematched', name='review_event_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_review_events_actor_id_users')),
    sa.ForeignKeyConstraint(['review_id'], ['change_reviews.id'], name=op.f('fk_review_events_review_id_change_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_events'))
    )
    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_events_review_id'), ['review_id'], unique=False)

    op.create_table('review_matches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('regulation_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('obligation_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['regulation_id'], ['regulations.id'], name=op.f('fk_review_matches_regulation_id_regulations')),
    sa.ForeignKeyConstraint(['review_id'], ['change_reviews.id'], name=op.f('fk_review_matches_review_id_change_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_matches')),
    sa.UniqueConstraint('review_id', 'regulation_id', name=op.f('uq_review_matches_review_id_regulation_id'))
    )
    with op.batch_alter_table('review_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_matches_regulation_id'), ['regulation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_matches_review_id'), ['review_id'], unique=False)



def downgrade():
    with op.batch_alter_table('review_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_matches_review_id'))
        batch_op.drop_index(batch_op.f('ix_review_matches_regulation_id'))

    op.drop_table('review_matches')
    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_events_review_id'))

    op.drop_table('review_events')
    with op.batch_alter_table('feed_entry_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_entry_revisions_entry_id'))

    op.drop_table('feed_entry_revisions')
    with op.batch_alter_table('change_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_reviews_state'))
        batch_op.drop_index(batch_op.f('ix_change_reviews_opened_at'))
        batch_op.drop_index(batch_op.f('ix_change_reviews_assignee_id'))

    op.drop_table('change_reviews')
    with op.batch_alter_table('feed_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_entries_source_title_key')
        batch_op.drop_index('ix_feed_entries_source_link_key')
        batch_op.drop_index(batch_op.f('ix_feed_entries_source_id'))
        batch_op.drop_index(batch_op.f('ix_feed_entries_first_seen_at'))

    op.drop_table('feed_entries')
    with op.batch_alter_table('feed_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_sources_next_poll_at'))

    op.drop_table('feed_sources')
