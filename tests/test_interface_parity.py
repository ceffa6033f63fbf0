"""One client interface, two implementations: every public method of a local workspace's
services exists on the remote one with the same signature, and no other."""

from __future__ import annotations

import inspect

import pytest

from gxpml.artifacts.catalog import Artifacts, Keys
from gxpml.audit.trail import AuditTrail
from gxpml.data.catalog import Data
from gxpml.data.remote import RemoteData
from gxpml.identity.access import Roles
from gxpml.identity.tokens import Tokens
from gxpml.identity.users import Users
from gxpml.lineage.graph import Lineage
from gxpml.remote import (
    RemoteArtifacts,
    RemoteAudit,
    RemoteKeys,
    RemoteLineage,
    RemoteRoles,
    RemoteTokens,
    RemoteUsers,
    RemoteWorkspace,
)
from gxpml.tracking.remote import RemoteRuns
from gxpml.tracking.runs import Runs
from gxpml.validation.remote import RemoteValidations
from gxpml.validation.service import Validations
from gxpml.workspace import Workspace

PAIRS = [(Users, RemoteUsers), (Roles, RemoteRoles), (Tokens, RemoteTokens), (AuditTrail, RemoteAudit),
         (Artifacts, RemoteArtifacts), (Keys, RemoteKeys), (Lineage, RemoteLineage),
         (Runs, RemoteRuns), (Data, RemoteData), (Validations, RemoteValidations)]
#: Ways to obtain a workspace, not methods of one.
CONSTRUCTORS = {"init", "open", "connect", "upgrade"}


def _public(cls: type, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") and name not in skip
    }


def _shape(sig: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(("local", "remote"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_each_service_has_the_same_methods_and_signatures(local: type, remote: type) -> None:
    local_methods, remote_methods = _public(local), _public(remote)
    assert sorted(local_methods) == sorted(remote_methods)
    for name in local_methods:
        assert _shape(local_methods[name]) == _shape(remote_methods[name]), name


def test_the_workspaces_have_the_same_methods_and_services() -> None:
    local_methods, remote_methods = _public(Workspace, CONSTRUCTORS), _public(RemoteWorkspace, CONSTRUCTORS)
    assert sorted(local_methods) == sorted(remote_methods)
    for name in local_methods:
        assert _shape(local_methods[name]) == _shape(remote_methods[name]), name



def test_both_workspaces_offer_the_same_services(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from support import ADMIN_PASSWORD, LiveServer, make_workspace

    local = make_workspace(tmp_path / "ws", None)
    server = LiveServer(local.settings.home)
    try:
        with Workspace.connect(server.url, user="admin", password=ADMIN_PASSWORD) as remote:
            for name, (local_cls, remote_cls) in zip(
                ["users", "roles", "tokens", "audit", "artifacts", "keys", "lineage"], PAIRS[:7], strict=True
            ):
                assert isinstance(getattr(local, name), local_cls)
                assert isinstance(getattr(remote, name), remote_cls)
            assert isinstance(local.runs, Runs) and isinstance(remote.runs, RemoteRuns)
            assert isinstance(local.data, Data) and isinstance(remote.data, RemoteData)
            assert isinstance(local.validations, Validations) and isinstance(remote.validations, RemoteValidations)
    finally:
        server.stop()
        local.close()
