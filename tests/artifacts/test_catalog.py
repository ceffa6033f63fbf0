"""``ws.artifacts`` and ``ws.keys``: audited, deduplicated, encrypted, verified on every read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gxpml.errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from gxpml.workspace import Workspace
from support import PASSWORD, make_workspace


def _object_path(local: Workspace, digest: str) -> Path:
    return Path(local.settings.artifact_url) / "objects" / digest[:2] / digest


def test_a_put_is_recorded_once_and_reads_back_verified(workspace: Workspace, tmp_path: Path, local: Workspace) -> None:
    source = tmp_path / "data.csv"
    source.write_bytes(b"age,sex,bmi\n59,2,32.1\n" * 1000)
    info = workspace.artifacts.put(source)
    assert info.digest == hashlib.sha256(source.read_bytes()).hexdigest()
    assert info.name == "data.csv" and info.encrypted and info.size == source.stat().st_size
    out = workspace.artifacts.get(info.digest, tmp_path / "copy.csv")
    assert out.read_bytes() == source.read_bytes()
    # stored bytes are ciphertext, not the plaintext
    assert b"age,sex,bmi" not in _object_path(local, info.digest).read_bytes()
    again = workspace.artifacts.put(source.read_bytes())
    assert again.digest == info.digest
    assert [e.entity_id for e in workspace.audit.log(action="artifact.put")] == [info.digest]
    assert workspace.audit.verify().ok


def test_edited_artifact_bytes_are_caught_and_the_digest_named(workspace: Workspace, tmp_path: Path, local: Workspace) -> None:
    info = workspace.artifacts.put(b"x" * 100_000)
    path = _object_path(local, info.digest)
    data = bytearray(path.read_bytes())
    data[5000] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=info.digest):
        workspace.artifacts.verify(info.digest)
    with pytest.raises(IntegrityError, match=info.digest):
        workspace.artifacts.get(info.digest, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    report = workspace.artifacts.fsck()
    assert not report.ok and info.digest in report.problems[0]


def test_an_unencrypted_workspace_stores_plaintext_and_still_verifies(tmp_path: Path, database_url: str | None) -> None:
    ws = make_workspace(tmp_path / "ws", database_url, encryption=False)
    info = ws.artifacts.put(b"plain content")
    assert not info.encrypted
    path = _object_path(ws, info.digest)
    assert path.read_bytes() == b"plain content"
    path.write_bytes(b"plain c0ntent")
    with pytest.raises(IntegrityError, match=info.digest):
        ws.artifacts.read_bytes(info.digest)
    ws.close()


def test_fsck_reports_and_removes_orphans(workspace: Workspace, local: Workspace) -> None:
    info = workspace.artifacts.put(b"recorded")
    store = local.artifacts._objects
    staged = store.put(__import__("io").BytesIO(b"never recorded"), dek=None)
    store.publish(staged)  # a crash between publish and commit leaves exactly this
    report = workspace.artifacts.fsck()
    assert report.ok and report.checked == 1
    assert report.orphans == [staged.digest]
    cleaned = workspace.artifacts.fsck(remove_orphans=True)
    assert cleaned.removed == [f"sha256:{staged.digest}"]
    assert workspace.artifacts.fsck().orphans == []
    assert workspace.artifacts.read_bytes(info.digest) == b"recorded"
    assert workspace.audit.log(action="artifact.fsck")[0].new == {"removed": cleaned.removed}


def test_key_rotation_rewraps_without_rewriting_objects(workspace: Workspace, local: Workspace) -> None:
    infos = [workspace.artifacts.put(f"object {i}".encode() * 100) for i in range(3)]
    before = {i.digest: _object_path(local, i.digest).read_bytes() for i in infos}
    old_key = workspace.keys.show()["master_key_id"]
    result = workspace.keys.rotate(reason="annual rotation")
    assert result["rewrapped"] == 3 and result["old_key_id"] == old_key
    # the retired key is kept for database backups taken before the rotation
    assert (local.settings.master_keys_dir / f"{old_key}.key").exists()
    assert result["destroyed"] == [] and result["retired"] == [old_key]
    for info in infos:
        assert _object_path(local, info.digest).read_bytes() == before[info.digest]
        assert workspace.artifacts.read_bytes(info.digest) == f"object {infos.index(info)}".encode() * 100
    assert workspace.keys.show()["data_keys_by_master_key"] == {result["new_key_id"]: 3}
    [event] = workspace.audit.log(action="keys.rotate")
    assert event.reason == "annual rotation" and event.new["rewrapped"] == 3  # type: ignore[index]


def test_rotating_with_destroy_old_destroys_the_compromised_key(workspace: Workspace, local: Workspace) -> None:
    info = workspace.artifacts.put(b"keep me readable")
    old_key = workspace.keys.show()["master_key_id"]
    result = workspace.keys.rotate(reason="key file leaked", destroy_old=True)
    assert result["destroyed"] == [old_key]
    assert not (local.settings.master_keys_dir / f"{old_key}.key").exists()
    assert workspace.artifacts.read_bytes(info.digest) == b"keep me readable"
    assert workspace.audit.log(action="keys.rotate")[0].new["destroyed"] == [old_key]  # type: ignore[index]


def test_unknown_and_malformed_digests_are_clear_errors(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="No artifact sha256:" + "0" * 64):
        workspace.artifacts.read_bytes("0" * 64)
    with pytest.raises(InvalidInput, match="64 lowercase hex"):
        workspace.artifacts.read_bytes("abc")
    with pytest.raises(NotFound, match="does not exist"):
        workspace.artifacts.put(Path("/no/such/file.csv"))


def test_roles_limit_who_may_store_and_read(workspace: Workspace, login: Callable[[str, str], Any]) -> None:
    info = workspace.artifacts.put(b"secret model")
    workspace.users.add("otto", "Otto Operator", password=PASSWORD, roles=["operator"])
    with login("otto", PASSWORD) as otto:
        assert otto.artifacts.read_bytes(info.digest) == b"secret model"
        with pytest.raises(PermissionDenied, match="may not artifact.put"):
            otto.artifacts.put(b"anything")
    assert len(workspace.artifacts.list()) == 1


def test_a_workspace_on_s3(tmp_path: Path, moto_s3: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    url, options = moto_s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", options["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", options["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("GXPML_S3_ENDPOINT_URL", options["client_kwargs"]["endpoint_url"])
    ws = make_workspace(tmp_path / "ws", None, artifact_url=f"{url}/ws-{tmp_path.name}")
    info = ws.artifacts.put(b"on s3 " * 10_000, name="s3.bin")
    assert ws.artifacts.read_bytes(info.digest) == b"on s3 " * 10_000
    assert ws.artifacts.fsck().ok
    ws.keys.rotate(reason="test")
    assert ws.artifacts.read_bytes(info.digest) == b"on s3 " * 10_000
    # tamper with the stored object through S3 itself
    import boto3

    s3 = boto3.client("s3", endpoint_url=options["client_kwargs"]["endpoint_url"], region_name="us-east-1",
                      aws_access_key_id=options["key"], aws_secret_access_key=options["secret"])
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    key = f"ws-{tmp_path.name}/objects/{info.digest[:2]}/{info.digest}"
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[100] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    with pytest.raises(IntegrityError, match=info.digest):
        ws.artifacts.read_bytes(info.digest)
    ws.close()
