"""``audit verify`` catches every kind of tampering and names where it happened."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from gxpml.store.tables import AuditCheckpoint
from gxpml.workspace import Workspace
from support import PASSWORD


def _populate(ws: Workspace, users: int = 5) -> None:
    for i in range(users):
        ws.users.add(f"user{i}", f"User Number {i}", password=PASSWORD, roles=["reviewer"])
    ws.users.disable("user0", reason="left the company")


def test_an_untouched_trail_verifies(workspace: Workspace) -> None:
    _populate(workspace)
    report = workspace.audit.verify()
    assert report.ok, report.problems
    assert report.events == report.head_seq == len(workspace.audit.log(limit=None))
    assert report.records >= 11  # 6 users, 6 role grants, minus nothing


def test_an_edited_field_is_named_by_its_sequence_number(workspace: Workspace, tamper: Callable[..., None]) -> None:
    _populate(workspace)
    target = workspace.audit.log(action="user.disable")[0].seq
    tamper(f"UPDATE audit_events SET reason = 'routine' WHERE seq = {target}")
    report = workspace.audit.verify()
    assert not report.ok
    assert report.first_failure == target
    assert any(p.check == "hash" and f"Event {target} was altered" in p.message for p in report.problems)


def test_a_deleted_event_is_named(workspace: Workspace, tamper: Callable[..., None]) -> None:
    _populate(workspace)
    tamper("DELETE FROM audit_events WHERE seq = 4")
    report = workspace.audit.verify()
    assert report.first_failure == 4
    assert "Events 4..4 are missing" in report.problems[0].message


def test_a_deleted_last_event_is_caught_by_the_head(workspace: Workspace, tamper: Callable[..., None]) -> None:
    _populate(workspace)
    last = workspace.audit.verify().head_seq
    tamper(f"DELETE FROM audit_events WHERE seq = {last}")
    report = workspace.audit.verify()
    assert report.first_failure == last
    assert any(p.check == "head" for p in report.problems)


def test_an_inserted_event_is_named(workspace: Workspace, tamper: Callable[..., None]) -> None:
    _populate(workspace)
    head = workspace.audit.verify().head_seq
    new = head + 1
    tamper(
        "INSERT INTO audit_events (seq, ts, actor_id, actor_name, action, prev_hash, hash) "
        f"VALUES ({new}, '2026-01-01T00:00:00.000000Z', 'system', 'x', 'user.create', "
        f"(SELECT hash FROM audit_events WHERE seq = {head}), '{'a' * 64}')"
    )
    report = workspace.audit.verify()
    assert report.first_failure == new


def test_two_reordered_events_are_named(workspace: Workspace, tamper: Callable[..., None]) -> None:
    _populate(workspace)
    tamper(
        "UPDATE audit_events SET seq = -1 WHERE seq = 5",
        "UPDATE audit_events SET seq = 5 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = -1",
    )
    report = workspace.audit.verify()
    assert report.first_failure == 5
    assert any(p.check == "link" and "Event 5" in p.message for p in report.problems)


def test_a_replaced_checkpoint_signature_is_named(workspace: Workspace, tamper: Callable[..., None]) -> None:
    _populate(workspace)
    seq = workspace.audit.checkpoint()
    assert workspace.audit.verify().checkpoints == 1
    tamper(f"UPDATE audit_checkpoints SET signature = '{'00' * 64}' WHERE seq = {seq}")
    report = workspace.audit.verify()
    assert report.first_failure == seq
    assert "signature does not verify" in report.problems[0].message


def test_a_rewritten_chain_is_caught_by_its_checkpoint(workspace: Workspace, tamper: Callable[..., None]) -> None:
    """Someone who edits an event and recomputes every hash after it still fails the signature."""
    from gxpml.audit.chain import event_hash

    _populate(workspace)
    seq = workspace.audit.checkpoint()
    events = workspace.audit.log(limit=None)
    statements, prev = [], events[0].prev_hash
    import json

    from gxpml.canonical import canonical_json

    for e in events:
        reason = "forged" if e.seq == 3 else e.reason
        fields = dict(seq=e.seq, ts=e.ts, actor_id=e.actor_id, actor_name=e.actor_name, action=e.action,
                      entity_type=e.entity_type, entity_id=e.entity_id,
                      old=None if e.old is None else canonical_json(e.old),
                      new=None if e.new is None else canonical_json(e.new),
                      reason=reason, request_id=e.request_id, prev_hash=prev)
        new_hash = event_hash(**fields)
        r = "NULL" if reason is None else "'" + reason.replace("'", "''") + "'"
        statements.append(f"UPDATE audit_events SET reason = {r}, prev_hash = '{prev}', hash = '{new_hash}' WHERE seq = {e.seq}")
        prev = new_hash
    statements.append(f"UPDATE audit_head SET hash = '{prev}' WHERE id = 1")
    tamper(*statements)
    report = workspace.audit.verify()
    assert [p.check for p in report.problems] == ["checkpoint"]
    assert report.first_failure == seq
    assert "chain was rewritten" in report.problems[0].message
    assert json  # keep import used


def test_a_record_edited_directly_in_the_database_is_named(workspace: Workspace, tamper: Callable[..., None]) -> None:
    user = workspace.users.add("bob", "Bob Jones", password=PASSWORD, roles=["reviewer"])
    tamper(f"UPDATE users SET full_name = 'Mallory' WHERE id = '{user.id}'")
    report = workspace.audit.verify()
    assert not report.ok
    [problem] = report.problems
    assert problem.check == "record"
    assert f"user {user.id} differs from its audit trail" in problem.message
    assert "full_name recorded 'Bob Jones', found 'Mallory'" in problem.message


def test_a_record_inserted_or_deleted_directly_is_named(workspace: Workspace, tamper: Callable[..., None]) -> None:
    user = workspace.users.add("bob", "Bob Jones", password=PASSWORD, roles=["reviewer"])
    tamper(
        "INSERT INTO role_grants (id, user_id, role, granted_at) "
        f"VALUES ('rg_forged', '{user.id}', 'admin', '2026-01-01T00:00:00.000000Z')",
    )
    messages = [p.message for p in workspace.audit.verify().problems]
    assert messages == ["role_grant rg_forged has no audit event: it was written outside gxpml."]
    tamper("DELETE FROM role_grants WHERE id = 'rg_forged'", f"DELETE FROM role_grants WHERE user_id = '{user.id}'")
    messages = [p.message for p in workspace.audit.verify().problems]
    assert len(messages) == 1 and "missing from the database: it was deleted outside gxpml" in messages[0]


def test_checkpoints_are_signed_automatically_every_interval(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    from support import make_workspace

    ws = make_workspace(tmp_path / "ws", database_url)
    ws._db.checkpoint_interval = 5
    _populate(ws, users=4)
    with ws._db.read() as session:
        seqs = session.scalars(select(AuditCheckpoint.seq)).all()
    assert seqs and all(s % 5 in range(0, 5) for s in seqs)
    assert len(seqs) == ws.audit.verify().head_seq // 5
    assert ws.audit.verify().ok
    ws.close()


def test_the_audit_tables_refuse_updates_and_deletes_at_the_database(workspace: Workspace, local: Workspace) -> None:
    from support import raw_execute

    with pytest.raises(Exception, match="append-only"):
        raw_execute(local, "UPDATE audit_events SET reason = 'x' WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"):
        raw_execute(local, "DELETE FROM audit_events WHERE seq = 1")
    assert workspace.audit.verify().ok
