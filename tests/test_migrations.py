"""Migrations: one head, they build the schema, and they match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from campaign.extensions import db


def test_there_is_a_single_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_builds_an_empty_database_that_matches_the_models(make_app, settings, tmp_path):
    fresh = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/m.db")
    with fresh.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            assert compare_metadata(context, db.metadata) == []
        db.engine.dispose()


def test_the_test_database_matches_the_models(app):
    """The same check on the configured database (PostgreSQL in CI's second run)."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, db.metadata) if "kombu" not in str(d)]
        assert diff == []
