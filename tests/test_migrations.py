"""The migrations build exactly the schema the models describe."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.schema import CreateIndex

from app import create_app
from app.db_dialect import UNCOMPARED_INDEXES, include_in_autogenerate
from app.extensions import db
from tests.support import ON_POSTGRES


@pytest.fixture
def empty_database_url(tmp_path, test_config):
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"alcance_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(test_config.SQLALCHEMY_DATABASE_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = test_config.SQLALCHEMY_DATABASE_URI.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Alembic warns about the expression indexes it cannot compare before `include_object`
# leaves them out; `_expression_indexes` compares them instead.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_migrations_match_models(empty_database_url, test_config):
    class Config(test_config):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn,
                    opts={"compare_type": True, "include_object": include_in_autogenerate},
                ),
                db.metadata,
            )
            expression_indexes = _expression_indexes(conn)
        db.engine.dispose()
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"
    assert expression_indexes["migrated"] == expression_indexes["models"]


def _expression_indexes(conn) -> dict:
    """PostgreSQL's own text of each expression index: as the migrations made it, and as the
    models would (created under a scratch name and dropped). The planner only uses such an
    index for a query with the very same expression, so they must agree exactly."""
    out = {"migrated": {}, "models": {}}
    if conn.dialect.name != "postgresql":
        return out
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            if index.name not in UNCOMPARED_INDEXES:
                continue
            ddl = str(CreateIndex(index).compile(dialect=conn.dialect))
            scratch = ddl.replace(index.name, "scratch_index", 1)
            conn.exec_driver_sql(scratch)
            for key, name in (("migrated", index.name), ("models", "scratch_index")):
                text_ = conn.exec_driver_sql(
                    "SELECT pg_get_indexdef(to_regclass(%(name)s))", {"name": name}
                ).scalar()
                out[key][index.name] = text_ and text_.replace(name, "<name>")
            conn.exec_driver_sql("DROP INDEX scratch_index")
    return out
