"""Schema migrations: a database behind the code is refused until `gxpml upgrade`."""

from __future__ import annotations

import pytest
from alembic import command

from gxpml.errors import ConfigError
from gxpml.store.engine import make_engine
from gxpml.store.migrate import _config, current_revision, head_revision
from gxpml.workspace import Workspace


def test_an_old_schema_is_refused_until_upgraded_and_the_upgrade_is_audited(local: Workspace) -> None:
    home, url = local.settings.home, local.settings.database_url
    local.close()
    engine = make_engine(url)
    with engine.begin() as conn:
        command.downgrade(_config(conn), "0001")
    assert current_revision(engine) == "0001"
    engine.dispose()
    with pytest.raises(ConfigError, match=r"schema revision 0001, this gxpml needs .*Run `gxpml upgrade`"):
        Workspace.open(home)
    assert Workspace.upgrade(home) == ("0001", head_revision())
    with Workspace.open(home, user="admin", password="root passphrase 2026") as ws:
        [event] = ws.audit.log(action="workspace.upgrade")
        assert event.new == {"from": "0001", "to": head_revision()}
        assert ws.audit.verify().ok
