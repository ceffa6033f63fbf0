"""Exports of the audit trail that can be verified offline (21 CFR 11.10(b), Annex 11 §8).

JSON Lines (``--format jsonl``): a header line (workspace, public key, range), one line per
event, one per checkpoint inside the range, and a signed manifest line over everything
before it. CSV (``--format csv``): the events as a table, and beside it ``FILE.manifest.json``
holding the header, checkpoints and the signed manifest over the CSV's bytes.
``gxpml audit verify --file EXPORT`` checks either without the database: every hash and
link inside the range, every checkpoint, and the manifest signature.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gxpml.audit.checkpoints import Signer, key_id_of, verify_signature
from gxpml.audit.verify import VerifyReport, verify_events
from gxpml.canonical import canonical_json, format_ts, utcnow
from gxpml.errors import IntegrityError, InvalidInput

__all__ = ["EVENT_COLUMNS", "FORMAT", "verify_export", "write_export"]

FORMAT = "gxpml-audit-export/1"
EVENT_COLUMNS = ("seq", "ts", "actor_id", "actor_name", "action", "entity_type", "entity_id",
                 "old", "new", "reason", "request_id", "prev_hash", "hash")


def _manifest(signer: Signer, header: dict[str, Any], body_sha256: str, first: int | None, last: int | None, count: int, last_hash: str | None) -> dict[str, Any]:
    manifest = {
        "type": "manifest", "format": FORMAT, "workspace_id": header["workspace_id"],
        "first_seq": first, "last_seq": last, "count": count, "last_hash": last_hash,
        "body_sha256": body_sha256, "signed_at": format_ts(utcnow()), "key_id": signer.key_id,
    }
    manifest["signature"] = signer.sign(canonical_json(manifest).encode("utf-8"))
    return manifest


def write_export(
    path: Path, events: Iterable[tuple[Any, ...]], checkpoints: Iterable[dict[str, Any]], *,
    signer: Signer, workspace_id: str, fmt: str, since: str | None, until: str | None,
) -> dict[str, Any]:
    """Write an export to ``path``; returns its manifest."""
    if fmt not in {"jsonl", "csv"}:
        raise InvalidInput(f"Export format must be jsonl or csv, got {fmt!r}.")
    header = {
        "type": "header", "format": FORMAT, "workspace_id": workspace_id,
        "public_key": signer.public_key_hex, "key_id": signer.key_id,
        "since": since, "until": until, "exported_at": format_ts(utcnow()),
    }
    digest = hashlib.sha256()
    count, first, last, last_hash = 0, None, None, None
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            def emit(line: str) -> None:
                data = line + "\n"
                digest.update(data.encode("utf-8"))
                fh.write(data)
            emit(canonical_json(header))
            for row in events:
                record = dict(zip(EVENT_COLUMNS, row, strict=True))
                emit(canonical_json({"type": "event", **record}))
                count += 1
                first = record["seq"] if first is None else first
                last, last_hash = record["seq"], record["hash"]
            cps = [cp for cp in checkpoints if first is not None and first <= cp["seq"] <= (last or 0)]
            for cp in cps:
                emit(canonical_json({"type": "checkpoint", **cp}))
            manifest = _manifest(signer, header, digest.hexdigest(), first, last, count, last_hash)
            fh.write(canonical_json(manifest) + "\n")
        else:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(EVENT_COLUMNS)
            for row in events:
                writer.writerow(["" if v is None else v for v in row])
                count += 1
                first = row[0] if first is None else first
                last, last_hash = row[0], row[-1]
                chunk = buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                digest.update(chunk.encode("utf-8"))
                fh.write(chunk)
            chunk = buffer.getvalue()
            digest.update(chunk.encode("utf-8"))
            fh.write(chunk)
            cps = [cp for cp in checkpoints if first is not None and first <= cp["seq"] <= (last or 0)]
            manifest = _manifest(signer, header, digest.hexdigest(), first, last, count, last_hash)
            sidecar = {"header": header, "checkpoints": cps, "manifest": manifest}
            side = path.with_name(path.name + ".manifest.json")
            side.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return manifest


def _csv_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        columns = next(reader, None)
        if columns is None or tuple(columns) != EVENT_COLUMNS:
            raise IntegrityError(f"{path} does not start with the audit export columns; it is not a gxpml CSV export.")
        for values in reader:
            row: list[str | int | None] = [None if v == "" else v for v in values]
            row[0] = int(values[0])
            yield tuple(row)


def _jsonl_frame(path: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], str]:
    """First pass over a JSON Lines export, in constant memory: its header, manifest,
    checkpoints and the SHA-256 of every line before the manifest."""
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    checkpoints: list[dict[str, Any]] = []
    previous: bytes | None = None
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if previous is not None:
                    digest.update(previous)
                    if not previous.startswith(b'{"action":'):
                        record = json.loads(previous)
                        if record.get("type") == "header" and header is None:
                            header = record
                        elif record.get("type") == "checkpoint":
                            checkpoints.append(record)
                previous = line
        manifest = json.loads(previous) if previous is not None else {}
    except ValueError as exc:
        raise IntegrityError(f"{path} has a line that is not JSON: the export was damaged.") from exc
    if header is None or manifest.get("type") != "manifest":
        raise IntegrityError(f"{path} lacks its header or manifest line; it is not a complete gxpml export.")
    return header, manifest, checkpoints, digest.hexdigest()


def _jsonl_events(path: Path) -> Iterator[tuple[Any, ...]]:
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.startswith(b'{"action":'):
                    record = json.loads(line)
                    if record.get("type") == "event":
                        yield tuple(record.get(c) for c in EVENT_COLUMNS)
    except ValueError as exc:
        raise IntegrityError(f"{path} has a line that is not JSON: the export was damaged.") from exc


def verify_export(path: Path) -> VerifyReport:
    """Verify an export file offline, in constant memory. The report names the first failing event."""
    report = VerifyReport()
    if not path.is_file():
        raise InvalidInput(f"No export file at {path}.")
    rows: Iterator[tuple[Any, ...]]
    if path.suffix == ".csv":
        side = path.with_name(path.name + ".manifest.json")
        try:
            sidecar = json.loads(side.read_text(encoding="utf-8"))
            header, manifest, cps = sidecar["header"], sidecar["manifest"], sidecar["checkpoints"]
        except (OSError, ValueError, KeyError) as exc:
            raise IntegrityError(f"The manifest {side} of a CSV export is missing or unreadable; the export cannot be verified.") from exc
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        body = h.hexdigest()
        rows = _csv_rows(path)
    else:
        header, manifest, cps, body = _jsonl_frame(path)
        rows = _jsonl_events(path)
    public_key = header.get("public_key", "")
    signature = manifest.get("signature", "")
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    if manifest.get("key_id") != key_id_of(public_key) or not verify_signature(public_key, canonical_json(unsigned).encode("utf-8"), signature):
        report.add("manifest", "The export's manifest signature does not verify: the file or its manifest was altered.")
    if manifest.get("body_sha256") != body:
        report.add("manifest", "The export's content does not match the digest its manifest signed: lines were altered, added or removed.")
    first = next(rows, None)
    if first is None:
        if manifest.get("count"):
            report.add("manifest", f"The export holds no events, the manifest signed {manifest.get('count')}.")
        return report
    first_seq = int(first[0])
    prev = str(first[EVENT_COLUMNS.index("prev_hash")])
    verify_events(
        itertools.chain([first], rows), {int(cp["seq"]): cp for cp in cps},
        workspace_id=header["workspace_id"], public_key_hex=public_key, report=report,
        first_seq=first_seq, prev_hash=prev,
    )
    if manifest.get("first_seq") != first_seq or manifest.get("count") != report.events:
        report.add("manifest", f"The export holds {report.events} events from {first_seq}, the manifest signed {manifest.get('count')} from {manifest.get('first_seq')}.")
    if report.head_hash != manifest.get("last_hash"):
        report.add("manifest", "The last event's hash differs from the one the manifest signed: events at the end were removed.", report.head_seq)
    return report
