"""The ``gxpml`` command line: a thin adapter over the SDK (see :mod:`gxpml.cli.app`).

Command names and options are an interface scripts rely on; change them only with care.
"""

from __future__ import annotations

from gxpml.cli import (
    artifacts,
    audit,
    lineage,
    reproduce,
    runs,
    server,
    sessions,
    tokens,
    users,
    validate,
    workspaces,
)
from gxpml.cli import data as datasets
from gxpml.cli.app import app, main

__all__ = ["app", "main"]

app.add_typer(workspaces.app)  # init, upgrade
app.add_typer(sessions.app)  # login, logout, whoami
app.add_typer(users.user_app, name="user")
app.add_typer(users.role_app, name="role")
app.add_typer(tokens.app, name="token")
app.add_typer(audit.app, name="audit")
app.add_typer(artifacts.artifacts_app, name="artifacts")
app.add_typer(artifacts.keys_app, name="keys")
app.add_typer(server.app)  # server
app.add_typer(lineage.app, name="lineage")
app.add_typer(runs.app, name="runs")
app.add_typer(datasets.app, name="data")
app.add_typer(reproduce.app)  # reproduce
app.add_typer(validate.app)  # validate, validations
