"""Constants and helpers shared by tests (import as ``from support import ...``)."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gxpml.workspace import Workspace

PG_ADMIN_URL = os.environ.get("GXPML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

#: Cheap argon2 so the suite does not spend minutes hashing; the policy is otherwise default.
FAST_SECURITY = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}
ADMIN_PASSWORD = "root passphrase 2026"
PASSWORD = "a long enough passphrase"



def new_pg_schema(pg_database: str) -> str:
    """A new empty schema in the session database; returns a URL whose search_path is it."""
    schema = f"ws_{secrets.token_hex(6)}"
    engine = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return make_url(pg_database).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def make_workspace(path: Path, database_url: str | None, **kwargs: Any) -> Workspace:
    return Workspace.init(
        path, admin="admin", admin_name="Ada Admin", password=ADMIN_PASSWORD,
        database_url=database_url, security={**FAST_SECURITY, **kwargs.pop("security", {})}, **kwargs,
    )


def raw_execute(ws: Workspace, *statements: str) -> None:
    """Run SQL on a raw driver connection, bypassing gxpml entirely (a malicious DBA)."""
    if ws._db.dialect == "sqlite":
        conn = sqlite3.connect(ws.settings.database_url.removeprefix("sqlite:///"))
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
    else:
        raw = ws._db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement in statements:
                cursor.execute(statement)
            raw.commit()
        finally:
            raw.close()


def drop_append_only(ws: Workspace) -> list[str]:
    """The statements that remove the audit tables' append-only triggers."""
    if ws._db.dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {t}_no_{v}" for t in ("audit_events", "audit_checkpoints") for v in ("update", "delete")]
    return [f"ALTER TABLE {t} DISABLE TRIGGER USER" for t in ("audit_events", "audit_checkpoints")]


class LiveServer:
    """A real uvicorn server for a workspace, on a free loopback port, in a thread of the
    test process (fast to start; the HTTP traffic is real)."""

    def __init__(self, home: Path, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> None:
        import socket
        import threading

        import uvicorn

        from gxpml.api import create_app
        from gxpml.api.server import _Config

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        scheme = "https" if ssl_certfile else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = _Config(create_app(home), host="127.0.0.1", port=self.port, log_level="warning",
                         ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


# ---------------------------------------------------------------------------- bundled data

DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]


def diabetes_frame() -> Any:
    """The bundled diabetes data (442 patients) as a DataFrame."""
    import io
    from importlib.resources import files

    import pandas as pd

    return pd.read_csv(io.StringIO((files("gxpml") / "datasets" / "diabetes.csv").read_text()))


def train_diabetes_run(ws: Any, model: Any = None, *, dataset: str = "diabetes") -> str:
    """A finished run that read the diabetes training split and logged a seeded model ``model``."""
    from sklearn.ensemble import GradientBoostingRegressor

    with ws.start_run(experiment="validation", seed=7, name="gbm") as run:
        train = run.use_dataset(dataset, split="train")
        fitted = (model or GradientBoostingRegressor(n_estimators=60, max_depth=2, random_state=7)).fit(
            train[DIABETES_FEATURES], train["progression"])
        run.log_model(fitted, name="model", input_example=train[DIABETES_FEATURES].head(3))
    return str(run.id)
