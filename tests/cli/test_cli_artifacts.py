"""``gxpml artifacts ...`` and ``gxpml keys ...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gxpml.errors import IntegrityError, NotFound, PermissionDenied
from support import PASSWORD

DAMAGED = IntegrityError.exit_code  # 8


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "train.csv"
    path.write_bytes(b"x,y\n" + b"1,2\n" * 10_000)
    return path


def damage(home: Path, digest: str) -> None:
    """Flip a byte of a stored object, as a failing disk or a careless admin would."""
    hexdigest = digest.removeprefix("sha256:")
    obj = home / "artifacts" / "objects" / hexdigest[:2] / hexdigest
    content = bytearray(obj.read_bytes())
    content[len(content) // 2] ^= 0xFF
    obj.write_bytes(bytes(content))


def test_put_prints_the_digest_and_get_returns_the_same_bytes(admin, data: Path, tmp_path: Path) -> None:
    result = admin("artifacts", "put", str(data))
    digest = result.stdout.strip()
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    assert "encrypted" in result.stderr
    out = tmp_path / "copy.csv"
    assert "Wrote" in admin("artifacts", "get", digest, str(out)).stdout
    assert out.read_bytes() == data.read_bytes()


def test_put_json_and_list(admin, data: Path) -> None:
    info = admin.json("artifacts", "put", str(data), "--name", "training set")
    assert (info["name"], info["size"], info["encrypted"]) == ("training set", data.stat().st_size, True)
    listed = admin.json("artifacts", "list")
    assert [a["digest"] for a in listed] == [info["digest"]]
    assert "training set" in admin("artifacts", "list").stdout


def test_put_of_a_missing_file_exits_4(admin, tmp_path: Path) -> None:
    result = admin("artifacts", "put", str(tmp_path / "absent.csv"), code=NotFound.exit_code)
    assert "absent.csv" in result.stderr


def test_verify_exits_0_for_an_intact_artifact_and_8_for_a_damaged_one(admin, data: Path, home: Path) -> None:
    digest = admin("artifacts", "put", str(data)).stdout.strip()
    assert "verifies" in admin("artifacts", "verify", digest).stdout
    damage(home, digest)
    result = admin("artifacts", "verify", digest, code=DAMAGED)
    assert result.stderr.startswith(f"Error: Artifact {digest} failed verification")


def test_get_of_an_unknown_digest_exits_4(admin, tmp_path: Path) -> None:
    admin("artifacts", "get", "sha256:" + "0" * 64, str(tmp_path / "out"), code=NotFound.exit_code)
    assert not (tmp_path / "out").exists()


def test_fsck_is_clean_until_an_object_is_damaged(admin, data: Path, home: Path) -> None:
    digest = admin("artifacts", "put", str(data)).stdout.strip()
    assert "Checked 1 artifacts: 0 problem(s)" in admin("artifacts", "fsck").stdout
    clean = admin("artifacts", "fsck", "--json")
    assert json.loads(clean.stdout)["checked"] == 1
    assert clean.stderr == ""  # no progress bar in --json mode
    damage(home, digest)
    result = admin("artifacts", "fsck", code=DAMAGED)
    assert digest in result.stdout
    assert "fsck found 1 problem(s)" in result.stderr
    report = admin("artifacts", "fsck", "--json", code=DAMAGED)
    assert '"ok": false' in report.stdout


def test_fsck_lists_orphans_and_removes_them_on_request(admin, data: Path, home: Path) -> None:
    orphan = home / "artifacts" / "objects" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"not recorded anywhere")
    assert admin.json("artifacts", "fsck")["orphans"] == ["sha256:ab" + "0" * 62]
    assert "--remove-orphans" in admin("artifacts", "fsck").stdout
    admin("artifacts", "fsck", "--remove-orphans")
    assert not orphan.exists()


def test_keys_show_and_rotate(admin, data: Path, tmp_path: Path) -> None:
    digest = admin("artifacts", "put", str(data)).stdout.strip()
    before = admin.json("keys", "show")
    admin("keys", "rotate", code=2)  # --reason is required
    result = admin("keys", "rotate", "--reason", "annual rotation")
    assert f"Rotated the master key from {before['master_key_id']}" in result.stdout
    assert "re-wrapped 1 artifact key(s)" in result.stdout
    after = admin.json("keys", "show")
    assert after["master_key_id"] != before["master_key_id"]
    assert "master_key_id" in admin("keys", "show").stdout
    admin("artifacts", "get", digest, str(tmp_path / "copy.csv"))  # still readable under the new key
    assert (tmp_path / "copy.csv").read_bytes() == data.read_bytes()


def test_readers_cannot_store_artifacts(cli, add_user, login, data: Path) -> None:
    add_user("rita", "reviewer")
    login("rita", PASSWORD)
    cli("artifacts", "put", str(data), code=PermissionDenied.exit_code)
