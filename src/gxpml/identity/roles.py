"""Built-in roles and the permissions they grant. Deny by default: what is not listed is refused.

A permission is ``domain.verb``; ``domain.*`` grants every verb of a domain and ``*`` all.
``self`` is granted to every authenticated user (change one's own password, one's own tokens).
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["ROLES", "permissions_for"]

ROLES: MappingProxyType[str, frozenset[str]] = MappingProxyType({
    # Administers the workspace: users, roles, keys. Everything else too.
    "admin": frozenset({"*"}),
    # Builds models: stores and reads artifacts, reads the audit trail of the workspace.
    "data-scientist": frozenset({"artifact.put", "artifact.read", "audit.read", "user.list", "lineage.read", "run.create", "run.read", "data.list", "data.read", "data.register", "data.split", "data.override", "model.validate"}),
    # QA: reviews records and their trail, verifies; cannot change data.
    "reviewer": frozenset({"artifact.read", "audit.read", "audit.verify", "user.list", "lineage.read", "run.read", "data.list"}),
    # Deploys and runs approved models.
    "operator": frozenset({"artifact.read", "audit.read", "lineage.read", "run.read"}),
    # Read-only inspection of everything, including verification and export of the trail.
    "auditor": frozenset({"artifact.read", "artifact.verify", "audit.read", "audit.verify", "audit.export", "user.list", "lineage.read", "run.read", "data.list"}),
    # Non-human tokens for pipelines and endpoints.
    "service": frozenset({"artifact.put", "artifact.read", "run.create", "run.read", "data.list", "data.read", "data.register", "data.split"}),
})


def permissions_for(roles: frozenset[str] | set[str]) -> frozenset[str]:
    """The union of the permissions of ``roles`` (unknown role names grant nothing)."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLES.get(role, frozenset())
    return frozenset(granted)
