"""Dataset data is read through ``ws.data`` only: a guard on direct artifact reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from gxpml.artifacts.catalog import READ_GUARDS
from gxpml.data.tables import DatasetSplit, DatasetVersion
from gxpml.errors import PermissionDenied

if TYPE_CHECKING:
    from gxpml.workspace import Workspace


def _guard_dataset_artifacts(ws: Workspace, digest: str) -> None:
    """Dataset rows, profiles and split assignments are read through ``ws.data`` only, which
    applies the dataset's read roles and counts reads of a sequestered test split."""
    with ws._db.read() as session:
        owner = session.scalars(select(DatasetVersion).where(
            (DatasetVersion.artifact == digest) | (DatasetVersion.profile_artifact == digest))).first()
        split = None if owner is not None else session.scalars(
            select(DatasetSplit).where(DatasetSplit.artifact == digest)).first()
    if owner is None and split is None:
        return
    ws._db.record_denial(ws.actor, f"artifact.read:{digest}")
    raise PermissionDenied(
        f"Artifact sha256:{digest} holds dataset data; read it with ws.data.load(...) or "
        "`gxpml data get`, which apply the dataset's access rules and record sequestered reads."
    )


READ_GUARDS.append(_guard_dataset_artifacts)
