"""``ws.data`` of a workspace reached through ``gxpml server``: the same methods as
:class:`gxpml.data.catalog.Data`, over ``/api/v1/datasets``.

Files are uploaded as they are (the server reads them exactly as a local workspace would, so
the digest is the same); a DataFrame is converted here to canonical Parquet and uploaded.
Data comes back as Parquet, streamed to a temporary file and checked against its SHA-256.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from gxpml.data.models import DatasetVersionInfo, SplitInfo, parse_name, parse_ref
from gxpml.errors import IntegrityError, InvalidInput, NotFound

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

    from gxpml.remote import RemoteWorkspace

__all__ = ["RemoteData"]

CHUNK = 1 << 20
DIGEST_HEADER = "X-Content-SHA256"


def _path(ref: str) -> str:
    name, version = parse_ref(ref)
    return f"/datasets/{quote(name, safe='')}/versions/{version or 'latest'}"


class RemoteData:
    """``ws.data`` through the server."""

    def __init__(self, ws: RemoteWorkspace) -> None:
        self._ws = ws

    def register(
        self, name: str, source: Any, *, description: str | None = None, source_uri: str | None = None,
        owner: str | None = None, phi: bool | None = None, retention_days: int | None = None,
        read_roles: Sequence[str] | None = None, checks: str | Path | dict[str, Any] | None = None,
        derived_from: str | None = None, override_reason: str | None = None,
    ) -> DatasetVersionInfo:
        """Upload ``source`` and register it (see :meth:`gxpml.data.catalog.Data.register`)."""
        from gxpml.data.checks import parse_checks

        parse_name(name)
        params: dict[str, Any] = {k: v for k, v in {
            "description": description, "source_uri": source_uri, "owner": owner, "phi": phi,
            "retention_days": retention_days, "derived_from": derived_from, "override_reason": override_reason,
        }.items() if v is not None}
        if read_roles is not None:
            params["read_roles"] = ",".join([read_roles] if isinstance(read_roles, str) else read_roles)
        if checks is not None:
            spec = parse_checks(checks)
            params["checks"] = self._ws.artifacts.put(spec.canonical(), name=f"dataset {name} checks.json").digest
        path = f"/datasets/{quote(name, safe='')}/versions"
        if isinstance(source, (str, Path)):
            from gxpml.data.frames import file_format

            file = Path(source)
            fmt = file_format(file)
            if not file.is_file():
                raise NotFound(f"Cannot register {file}: the file does not exist.")
            if fmt == "csv":
                lowered = file.name.lower()
                fmt = next((s for s in ("csv.gz", "csv.bz2", "csv.zst") if lowered.endswith("." + s)), "csv")
            params.setdefault("source_uri", str(file))
            with open(file, "rb") as fh:
                return self._upload(path, fh, {**params, "format": fmt, "filename": file.name})
        with tempfile.TemporaryDirectory(prefix="gxpml-upload-") as tmp:
            parquet = Path(tmp) / "data.parquet"
            _dataframe_to_parquet(source, parquet)
            with open(parquet, "rb") as fh:
                return self._upload(path, fh, {**params, "format": "dataframe"})

    def _upload(self, path: str, fh: BinaryIO, params: dict[str, Any]) -> DatasetVersionInfo:
        h = hashlib.sha256()
        while chunk := fh.read(CHUNK):
            h.update(chunk)
        fh.seek(0)

        def body() -> Iterator[bytes]:
            while chunk := fh.read(CHUNK):
                yield chunk

        headers = {"Content-Type": "application/octet-stream", DIGEST_HEADER: h.hexdigest()}
        return DatasetVersionInfo.from_dict(self._ws._json("POST", path, content=body(), headers=headers, params=params))

    def update(
        self, name: str, *, reason: str, description: str | None = None, owner: str | None = None,
        phi: bool | None = None, retention_days: int | None = None, read_roles: Sequence[str] | None = None,
    ) -> DatasetVersionInfo:
        body = {"reason": reason, "description": description, "owner": owner, "phi": phi,
                "retention_days": retention_days, "read_roles": None if read_roles is None else list(read_roles)}
        return DatasetVersionInfo.from_dict(self._ws._json("PATCH", f"/datasets/{quote(parse_name(name), safe='')}", json=body))

    def list(self, name: str | None = None) -> list[DatasetVersionInfo]:
        path = "/datasets" if name is None else f"/datasets/{quote(parse_name(name), safe='')}/versions"
        return [DatasetVersionInfo.from_dict(v) for v in self._ws._json("GET", path)]

    def show(self, ref: str) -> DatasetVersionInfo:
        return DatasetVersionInfo.from_dict(self._ws._json("GET", _path(ref)))

    def profile(self, ref: str) -> dict[str, Any]:
        result: dict[str, Any] = self._ws._json("GET", _path(ref) + "/profile")
        return result

    def load(self, ref: str, split: str | None = None) -> pd.DataFrame:
        """Download the rows (streamed, digest-checked) and read them into a DataFrame."""
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        if split is not None and split not in ("train", "validation", "test"):
            raise InvalidInput(f"split must be one of train, validation, test (or None for all rows); got {split!r}.")
        params = {"split": split} if split else None
        response = self._ws._send("GET", _path(ref) + "/data", stream=True, params=params)
        with tempfile.TemporaryDirectory(prefix="gxpml-download-") as tmp:
            path = Path(tmp) / "data.parquet"
            h = hashlib.sha256()
            try:
                with open(path, "wb") as fh:
                    for chunk in response.iter_bytes(CHUNK):
                        h.update(chunk)
                        fh.write(chunk)
            finally:
                response.close()
            if h.hexdigest() != response.headers.get(DIGEST_HEADER):
                raise IntegrityError(
                    f"The data received for {ref} hashes to sha256:{h.hexdigest()}, not the sha256:"
                    f"{response.headers.get(DIGEST_HEADER)} the server sent: it was damaged in transfer. Load it again."
                )
            return pq.read_table(path).replace_schema_metadata(None).to_pandas()

    def split(
        self, ref: str, *, test: float = 0.2, validation: float = 0.0, group: str | None = None,
        time: str | None = None, seed: int, sequester_test: bool = True,
    ) -> SplitInfo:
        body = {"test": test, "validation": validation, "group": group, "time": time, "seed": seed,
                "sequester_test": sequester_test}
        return SplitInfo.from_dict(self._ws._json("POST", _path(ref) + "/splits", json=body))

    def erase(self, ref: str, *, reason: str, before_retention_end: bool = False) -> DatasetVersionInfo:
        body = {"reason": reason, "before_retention_end": before_retention_end}
        return DatasetVersionInfo.from_dict(self._ws._json("POST", _path(ref) + "/erase", json=body))


def _dataframe_to_parquet(source: Any, dest: Path) -> None:
    """A DataFrame (or Arrow table) as canonical Parquet, the form the server stores."""
    from gxpml.data.frames import open_source, write_parquet

    src = open_source(source)
    write_parquet(src.batches(), src.schema, dest)
