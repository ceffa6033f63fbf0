"""Migration 0003 creates exactly the dataset tables the models declare, and reverts cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gxpml.data.tables import Dataset, DatasetSplit, DatasetVersion
from gxpml.store.migrate import _config, upgrade
from gxpml.store.tables import Base
from gxpml.workspace import Workspace

TABLES = {Dataset.__tablename__, DatasetVersion.__tablename__, DatasetSplit.__tablename__}


def _differences(local: Workspace) -> list[object]:
    def only_dataset_tables(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in TABLES

    with local._db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": only_dataset_tables, "compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migration_matches_the_models_and_can_be_reverted(local: Workspace) -> None:
    assert _differences(local) == []
    engine = local._db.engine
    with engine.begin() as conn:
        command.downgrade(_config(conn), "0002")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
