"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 09:37:59.645797
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('dataset_loads',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('geocode_cache',
    sa.Column('query_key', sa.String(length=200), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('found', sa.Boolean(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=300), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('query_key')
    )
    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_name', sa.String(length=200), nullable=True),
    sa.Column('address_line1', sa.String(length=200), nullable=True),
    sa.Column('address_line2', sa.String(length=200), nullable=True),
    sa.Column('town', sa.String(length=100), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('postcode', sa.String(length=16), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('point', geoalchemy2.types.Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('geocode_precision', sa.String(length=16), nullable=False),
    sa.Column('address_key', sa.String(length=600), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address_key', name='uq_locations_address_key')
    )
    op.create_index('ix_locations_point', 'locations', ['point'], unique=False, postgresql_using='gist')
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('places',
    sa.Column('geonameid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('admin1', sa.String(length=20), nullable=True),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('point', geoalchemy2.types.Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('geonameid')
    )
    op.create_index('ix_places_name_key', 'places', ['name_key'], unique=False)
    op.create_index('ix_places_point', 'places', ['point'], unique=False, postgresql_using='gist')
    op.create_table('postcode_centroids',
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('place_name', sa.String(length=200), nullable=True),
    sa.Column('point', geoalchemy2.types.Geography(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeogFromText', name='geography', nullable=False), nullable=False),
    sa.Column('dataset', sa.String(length=40), nullable=False),
    sa.CheckConstraint("kind IN ('postcode', 'sector', 'district', 'area')", name='ck_postcode_kind'),
    sa.PrimaryKeyConstraint('country', 'code')
    )
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('join_mode', sa.String(length=16), nullable=False),
    sa.Column('join_url', sa.String(length=500), nullable=True),
    sa.Column('join_phone', sa.String(length=40), nullable=True),
    sa.Column('join_email', sa.String(length=254), nullable=True),
    sa.Column('join_notes', sa.Text(), nullable=True),
    sa.Column('loss_types', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('audiences', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('languages', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('cost', sa.String(length=16), nullable=False),
    sa.Column('facilitation', sa.String(length=16), nullable=False),
    sa.Column('accessibility_notes', sa.Text(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('service_countries', sa.ARRAY(sa.String(length=2)), nullable=False),
    sa.Column('last_confirmed', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(format = 'virtual') = (location_id IS NULL)", name='ck_groups_location_by_format'),
    sa.CheckConstraint("audiences <@ ARRAY['birthing_parents', 'partners', 'dads', 'couples', 'lgbtq_parents', 'grandparents', 'families', 'professionals']::text[]", name='ck_groups_audiences'),
    sa.CheckConstraint("cost IN ('free', 'donation', 'fee')", name='ck_groups_cost'),
    sa.CheckConstraint("facilitation IN ('peer', 'professional', 'co_led')", name='ck_groups_facilitation'),
    sa.CheckConstraint("format = 'in_person' OR cardinality(service_countries) > 0", name='ck_groups_online_service_area'),
    sa.CheckConstraint("format IN ('in_person', 'virtual', 'hybrid')", name='ck_groups_format'),
    sa.CheckConstraint("join_mode IN ('drop_in', 'register', 'contact', 'waitlist')", name='ck_groups_join_mode'),
    sa.CheckConstraint("loss_types <@ ARRAY['miscarriage', 'recurrent_miscarriage', 'ectopic', 'molar', 'stillbirth', 'neonatal_death', 'tfmr', 'infant_loss', 'pregnancy_after_loss']::text[]", name='ck_groups_loss_types'),
    sa.CheckConstraint("status IN ('active', 'paused', 'withdrawn')", name='ck_groups_status'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_groups_audiences', 'groups', ['audiences'], unique=False, postgresql_using='gin')
    op.create_index('ix_groups_format_status', 'groups', ['format', 'status'], unique=False)
    op.create_index('ix_groups_languages', 'groups', ['languages'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_groups_location_id'), 'groups', ['location_id'], unique=False)
    op.create_index('ix_groups_loss_types', 'groups', ['loss_types'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_groups_organisation_id'), 'groups', ['organisation_id'], unique=False)
    op.create_index('ix_groups_service_countries', 'groups', ['service_countries'], unique=False, postgresql_using='gin')
    op.create_table('listing_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('external_id', sa.String(length=300), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='uq_listing_sources_ref')
    )
    op.create_index(op.f('ix_listing_sources_group_id'), 'listing_sources', ['group_id'], unique=False)
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('freq', sa.String(length=8), nullable=False),
    sa.Column('interval', sa.SmallInteger(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('set_pos', sa.SmallInteger(), nullable=True),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('duration_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('cancelled_dates', sa.ARRAY(sa.Date()), nullable=False),
    sa.Column('time_band', sa.String(length=10), nullable=False),
    sa.Column('upcoming', sa.ARRAY(sa.DateTime(timezone=True)), nullable=False),
    sa.CheckConstraint("(freq = 'weekly' AND set_pos IS NULL) OR (freq = 'monthly' AND set_pos IN (1, 2, 3, 4, -1))", name='ck_schedules_set_pos'),
    sa.CheckConstraint("freq IN ('weekly', 'monthly')", name='ck_schedules_freq'),
    sa.CheckConstraint("time_band IN ('morning', 'afternoon', 'evening', 'night')", name='ck_schedules_time_band'),
    sa.CheckConstraint('duration_minutes BETWEEN 1 AND 1440', name='ck_schedules_duration'),
    sa.CheckConstraint('interval BETWEEN 1 AND 12', name='ck_schedules_interval'),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name='ck_schedules_weekday'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_schedules_group_id'), 'schedules', ['group_id'], unique=False)
    op.create_index('ix_schedules_upcoming', 'schedules', ['upcoming'], unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_schedules_upcoming', table_name='schedules', postgresql_using='gin')
    op.drop_index(op.f('ix_schedules_group_id'), table_name='schedules')
    op.drop_table('schedules')
    op.drop_index(op.f('ix_listing_sources_group_id'), table_name='listing_sources')
    op.drop_table('listing_sources')
    op.drop_index('ix_groups_service_countries', table_name='groups', postgresql_using='gin')
    op.drop_index(op.f('ix_groups_organisation_id'), table_name='groups')
    op.drop_index('ix_groups_loss_types', table_name='groups', postgresql_using='gin')
    op.drop_index(op.f('ix_groups_location_id'), table_name='groups')
    op.drop_index('ix_groups_languages', table_name='groups', postgresql_using='gin')
    op.drop_index('ix_groups_format_status', table_name='groups')
    op.drop_index('ix_groups_audiences', table_name='groups', postgresql_using='gin')
    op.drop_table('groups')
    op.drop_table('postcode_centroids')
    op.drop_index('ix_places_point', table_name='places', postgresql_using='gist')
    op.drop_index('ix_places_name_key', table_name='places')
    op.drop_table('places')
    op.drop_table('organisations')
    op.drop_index('ix_locations_point', table_name='locations', postgresql_using='gist')
    op.drop_table('locations')
    op.drop_table('geocode_cache')
    op.drop_table('dataset_loads')
