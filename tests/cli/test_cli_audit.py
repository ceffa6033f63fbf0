"""``gxpml audit ...``: read, verify (exit 8 on tampering), export, checkpoint."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gxpml.errors import IntegrityError, PermissionDenied
from support import PASSWORD

TAMPERED = IntegrityError.exit_code  # 8


def tamper(home: Path, *statements: str) -> None:
    """Edit the database behind gxpml's back, as a malicious DBA would: the append-only
    trigger goes first."""
    conn = sqlite3.connect(home / "gxpml.db")
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def busy(admin, add_user):
    """The admin's CLI on a workspace with some history: two users, one disabled."""
    add_user("bob", "reviewer")
    add_user("carol", "auditor")
    admin("user", "disable", "bob", "--reason", "left the company")
    return admin


def test_audit_log_lists_events_oldest_first_as_a_table(busy) -> None:
    out = busy("audit", "log").stdout
    for header in ("seq", "time", "actor", "action", "entity", "reason"):
        assert header in out
    assert out.index("workspace.init") < out.index("user.create") < out.index("user.disable")
    assert "left the company" in out


def test_audit_log_filters(busy) -> None:
    events = busy.json("audit", "log")
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    disabled = busy.json("audit", "log", "--action", "user.disable")
    assert [(e["action"], e["reason"]) for e in disabled] == [("user.disable", "left the company")]
    assert {e["action"] for e in busy.json("audit", "log", "--action", "user.*")} == {"user.create", "user.disable"}
    assert {e["entity_type"] for e in busy.json("audit", "log", "--entity", "user")} == {"user"}
    user_id = disabled[0]["entity_id"]
    assert {e["entity_id"] for e in busy.json("audit", "log", "--entity", f"user:{user_id}")} == {user_id}
    assert {e["actor_name"] for e in busy.json("audit", "log", "--actor", "admin")} == {"Ada Admin"}
    assert len(busy.json("audit", "log", "--limit", "2")) == 2
    assert busy.json("audit", "log", "--since", "2999-01-01") == []
    assert len(busy.json("audit", "log", "--until", "2999-01-01T00:00:00+02:00", "--limit", "0")) == len(
        busy.json("audit", "log", "--limit", "0"))
    result = busy("audit", "log", "--since", "last tuesday", code=2)
    assert "ISO-8601" in result.output


def test_a_clean_trail_verifies_with_exit_0(busy) -> None:
    assert "The audit trail verifies" in busy("audit", "verify").stdout
    report = busy.json("audit", "verify")
    assert report["ok"] is True and report["problems"] == [] and report["events"] > 0


def test_an_edited_event_fails_verification_with_exit_8_naming_the_event(busy, home: Path) -> None:
    seq = busy.json("audit", "log", "--action", "user.disable")[0]["seq"]
    tamper(home, f"UPDATE audit_events SET reason = 'routine' WHERE seq = {seq}")
    result = busy("audit", "verify", code=TAMPERED)
    assert f"Event {seq} was altered" in result.stdout
    assert result.stderr.startswith("Error: The audit trail failed verification")
    assert f"the first failing event is {seq}" in result.stderr


def test_verify_json_reports_the_failure_and_still_exits_8(busy, home: Path) -> None:
    tamper(home, "UPDATE audit_events SET actor_name = 'Someone Else' WHERE seq = 2")
    result = busy("audit", "verify", "--json", code=TAMPERED)
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_failure"] == 2
    assert {p["check"] for p in report["problems"]} >= {"hash"}


def test_verify_needs_a_role_that_grants_it(cli, add_user, login) -> None:
    add_user("dana", "data-scientist")
    login("dana", PASSWORD)
    cli("audit", "verify", code=PermissionDenied.exit_code)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_verifies_offline_without_a_workspace(busy, gxpml, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"trail.{fmt}"
    result = busy("audit", "export", str(out), "--format", fmt)
    assert "Exported" in result.stdout and out.is_file()
    assert "The audit export verifies" in gxpml("audit", "verify", "--file", str(out)).stdout
    assert gxpml.json("audit", "verify", "--file", str(out))["ok"] is True


def test_a_tampered_export_fails_verification_with_exit_8(busy, gxpml, tmp_path: Path) -> None:
    out = tmp_path / "trail.jsonl"
    busy("audit", "export", str(out))
    out.write_text(out.read_text().replace("left the company", "retired"))
    result = gxpml("audit", "verify", "--file", str(out), code=TAMPERED)
    assert "The audit export failed verification" in result.stderr


def test_export_rejects_an_unknown_format(busy, tmp_path: Path) -> None:
    busy("audit", "export", str(tmp_path / "x.xml"), "--format", "xml", code=2)


def test_checkpoint_signs_the_head_and_verify_checks_it(busy) -> None:
    head = busy.json("audit", "verify")["head_seq"]
    assert f"Signed a checkpoint at event {head}" in busy("audit", "checkpoint").stdout
    assert busy.json("audit", "verify")["checkpoints"] == 1
