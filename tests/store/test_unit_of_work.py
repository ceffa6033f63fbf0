"""The unit of work is the one write path: record and event commit together or not at all."""

from __future__ import annotations

import datetime
import json

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from gxpml.errors import Conflict, IntegrityError, PermissionDenied, ReasonRequired
from gxpml.store.tables import AuditEvent, RoleGrant, User
from gxpml.workspace import Workspace
from support import PASSWORD


def _event_count(ws: Workspace) -> int:
    with ws._db.read() as session:
        return len(session.scalars(select(AuditEvent.seq)).all())


def test_a_failing_command_rolls_back_the_record_and_its_event(local: Workspace) -> None:
    before = _event_count(local)
    with pytest.raises(RuntimeError, match="boom"):
        with local._db.write(local.actor, "user.create") as uow:
            uow.add(User(username="ghost", full_name="G", password_hash="x"))
            uow.session.flush()  # the event is written in this flush...
            raise RuntimeError("boom")  # ...and rolled back with the record
    with local._db.read() as session:
        assert session.scalars(select(User).where(User.username == "ghost")).first() is None
    assert _event_count(local) == before
    assert local.audit.verify().ok


def test_every_inserted_record_gets_an_event_with_its_full_state(local: Workspace) -> None:
    user = local.users.add("bob", "Bob Jones", password=PASSWORD, roles=["reviewer"])
    [event] = local.audit.log(entity=f"user:{user.id}")
    assert event.action == "user.create"
    assert event.actor_name == "Ada Admin"
    assert event.old is None
    assert event.new is not None and event.new["username"] == "bob"
    # the password hash is a secret: the event carries only its digest
    assert event.new["password_hash"].startswith("sha256:")


def test_an_update_keeps_the_old_values_and_its_reason(local: Workspace) -> None:
    local.users.add("bob", "Bob Jones", password=PASSWORD)
    local.users.disable("bob", reason="left the company")
    [event] = local.audit.log(action="user.disable")
    assert event.old == {"status": "active"}
    assert event.new is not None and event.new["status"] == "disabled"
    assert event.reason == "left the company"


def test_an_update_without_a_reason_is_refused_and_nothing_changes(local: Workspace) -> None:
    local.users.add("bob", "Bob Jones", password=PASSWORD)
    before = _event_count(local)
    with pytest.raises(ReasonRequired, match="needs a reason"):
        with local._db.write(local.actor, "user.edit") as uow:
            bob = uow.session.scalars(select(User).where(User.username == "bob")).one()
            bob.email = "bob@example.com"
    assert local.users.get("bob").email is None
    assert _event_count(local) == before


def test_gxp_records_cannot_be_deleted(local: Workspace) -> None:
    local.users.add("bob", "Bob Jones", password=PASSWORD)
    with pytest.raises(Conflict, match="never deleted"):
        with local._db.write(local.actor, "user.delete", reason="cleanup") as uow:
            uow.session.delete(uow.session.scalars(select(User).where(User.username == "bob")).one())
    assert local.users.get("bob").status == "active"


def test_an_orm_flush_outside_a_unit_of_work_is_refused(local: Workspace) -> None:
    with Session(local._db.engine) as session:
        session.add(User(username="sneaky", full_name="S", password_hash="x"))
        with pytest.raises(IntegrityError, match="outside a unit of work"):
            session.commit()


@pytest.mark.parametrize("statement", [
    "insert", "update", "raw-update", "audit-insert",
])
def test_core_and_raw_sql_writes_through_the_engine_are_refused(local: Workspace, statement: str) -> None:
    with local._db.engine.connect() as conn:
        with pytest.raises(IntegrityError, match="unaudited write"):
            if statement == "insert":
                conn.execute(insert(RoleGrant).values(id="rg_x", user_id=local.actor.id, role="admin", granted_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)))
            elif statement == "update":
                conn.execute(update(User).values(full_name="Mallory"))
            elif statement == "raw-update":
                conn.execute(text("UPDATE users SET status = 'active'"))
            else:
                conn.execute(text("INSERT INTO audit_events (seq) VALUES (999)"))
    assert local.audit.verify().ok


def test_a_denied_action_is_refused_and_recorded(local: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    local.users.add("rita", "Rita Reviewer", password=PASSWORD, roles=["reviewer"])
    with Workspace.open(local.settings.home, user="rita", password=PASSWORD) as rita:
        with pytest.raises(PermissionDenied, match=r"rita \(reviewer\) may not user.create"):
            rita.users.add("eve", "Eve", password=PASSWORD)
        [denial] = local.audit.log(action="access.denied")
        assert denial.actor_name == "Rita Reviewer"
        assert denial.new == {"actor": "rita", "permission": "user.create", "token_id": rita.actor.token_id}
    with local._db.read() as session:
        assert session.scalars(select(User).where(User.username == "eve")).first() is None


def test_events_of_one_command_share_its_action_and_are_contiguous(local: Workspace) -> None:
    local.users.add("bob", "Bob Jones", password=PASSWORD, roles=["reviewer", "operator"])
    events = local.audit.log(action="user.create")
    assert [e.entity_type for e in events] == ["role_grant", "role_grant", "user"] or \
        sorted(e.entity_type for e in events) == ["role_grant", "role_grant", "user"]
    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert all(json.dumps(e.new) for e in events)


def test_a_failed_unit_of_work_does_not_leave_the_guard_open(local: Workspace) -> None:
    """The permission to write audited tables ends with the unit of work, even a failed one."""
    local.users.add("bob", "Bob Jones", password=PASSWORD)
    for _ in range(3):
        with pytest.raises(ReasonRequired):
            with local._db.write(local.actor, "user.edit") as uow:
                uow.session.scalars(select(User).where(User.username == "bob")).one().email = "b@example.com"
    for _ in range(3):  # whichever pooled connection is handed out next
        with local._db.engine.connect() as conn:
            with pytest.raises(IntegrityError, match="unaudited write"):
                conn.execute(text("UPDATE users SET full_name = 'Mallory'"))


def test_the_head_revision_read_from_file_names_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from gxpml.store.migrate import _config, head_revision

    assert head_revision() == ScriptDirectory.from_config(_config()).get_current_head()


def test_the_fast_insert_path_writes_record_and_event_together_or_neither(local: Workspace) -> None:
    from gxpml.store.tables import Segment

    before = _event_count(local)
    with pytest.raises(RuntimeError, match="boom"):
        with local._db.write(local.actor, "metrics.log") as uow:
            uow.insert(Segment, kind="k", count=0, digest="0" * 64)
            raise RuntimeError("boom")
    assert _event_count(local) == before
    with local._db.write(local.actor, "metrics.log") as uow:
        row = uow.insert(Segment, kind="k", count=0, digest="0" * 64)
    [event] = local.audit.log(entity=f"segment:{row['id']}")
    assert event.new is not None and event.new["kind"] == "k" and event.new["created_at"].endswith("Z")
    assert local.audit.verify().ok
    with pytest.raises(TypeError, match="no column"):
        with local._db.write(local.actor, "metrics.log") as uow:
            uow.insert(Segment, kind="k", count=0, digest="0" * 64, colour="red")
