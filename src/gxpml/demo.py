"""``make demo``: the record core at work on real clinical data, in a fresh workspace.

Creates ``./demo-workspace`` (SQLite + local folder, encryption on), its people and roles,
stores the bundled diabetes study (442 patients) as an encrypted, content-addressed artifact,
shows access control and account lockout at work, signs a checkpoint, verifies the audit
trail, exports it and verifies the export offline — then shows that a one-character edit of
the export is caught.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gxpml.errors import AuthenticationError, PermissionDenied
from gxpml.workspace import Workspace

HOME = Path(os.environ.get("GXPML_DEMO_HOME", "demo-workspace"))
# Demo passwords only: real deployments take them from a prompt or GXPML_PASSWORD.
PASSWORDS = {
    "qa.admin": "demo admin passphrase",
    "dana": "demo scientist passphrase",
    "rita": "demo reviewer passphrase",
    "audrey": "demo auditor passphrase",
}

console = Console()


def step(text: str) -> None:
    console.print(f"[bold cyan]▸[/] {text}")


def main() -> None:
    started = time.perf_counter()
    if HOME.exists():
        shutil.rmtree(HOME)
    os.environ.setdefault("GXPML_SESSION_FILE", str(HOME.resolve() / "sessions.json"))
    step(f"Creating workspace {HOME}/ (SQLite metadata, encrypted local artifact store)")
    admin = Workspace.init(HOME, admin="qa.admin", admin_name="Quinn Admin", password=PASSWORDS["qa.admin"])

    step("Adding people with least-privilege roles")
    admin.users.add("dana", "Dana Scientist", password=PASSWORDS["dana"], email="dana@example.org", roles=["data-scientist"])
    admin.users.add("rita", "Rita Reviewer", password=PASSWORDS["rita"], roles=["reviewer"])
    admin.users.add("audrey", "Audrey Auditor", password=PASSWORDS["audrey"], roles=["auditor"])

    step("Dana stores the diabetes study (442 patients, Efron et al. 2004) as an artifact")
    data = resources.files("gxpml.datasets").joinpath("diabetes.csv")
    with Workspace.open(HOME, user="dana", password=PASSWORDS["dana"]) as dana, resources.as_file(data) as path:
        dataset = dana.artifacts.put(path, name="diabetes.csv")
        assert dana.artifacts.read_bytes(dataset.digest) == path.read_bytes()
    console.print(f"    sha256:{dataset.digest}  {dataset.size:,} bytes, encrypted={dataset.encrypted}")

    step("Rita (reviewer) tries to store a file: refused, and the attempt is recorded")
    with Workspace.open(HOME, user="rita", password=PASSWORDS["rita"]) as rita:
        try:
            rita.artifacts.put(b"unreviewed edit")
        except PermissionDenied as exc:
            console.print(f"    [yellow]refused:[/] {exc}")

    step("Someone guesses Rita's password five times: the account locks and an alert is raised")
    for _ in range(admin.settings.security.lockout_threshold):
        try:
            Workspace.open(HOME, user="rita", password="guess-guess-guess")
        except AuthenticationError:
            pass
    admin.users.unlock("rita", reason="identity confirmed by phone (demo)")

    step("Signing a checkpoint of the audit trail (Ed25519) and verifying the whole trail")
    admin.audit.checkpoint()
    report = admin.audit.verify()
    console.print(f"    {'[green]verified[/]' if report.ok else '[red]FAILED[/]'}: {report.events} events, "
                  f"{report.checkpoints} checkpoint(s), {report.records} records replayed")

    step("Audrey (auditor) exports the trail; the export verifies offline")
    exports = HOME / "exports"
    exports.mkdir()
    with Workspace.open(HOME, user="audrey", password=PASSWORDS["audrey"]) as audrey:
        manifest = audrey.audit.export(exports / "audit-trail.jsonl")
        audrey.audit.export(exports / "audit-trail.csv", fmt="csv")
    offline = admin.audit.verify_file(exports / "audit-trail.jsonl")
    console.print(f"    export of events {manifest['first_seq']}..{manifest['last_seq']}: "
                  f"{'[green]verified[/]' if offline.ok else '[red]FAILED[/]'}")

    step("A copy of the export with one reason edited is caught, and the event named")
    lines = (exports / "audit-trail.jsonl").read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("reason") == "identity confirmed by phone (demo)":
            record["reason"] = "routine"
            lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            break
    tampered = exports / "audit-trail.TAMPERED.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    caught = admin.audit.verify_file(tampered)
    console.print(f"    [red]detected[/] at event {caught.first_failure}: {caught.problems[-1].message}")

    table = Table(title="Audit trail (last 12 events)", show_lines=False)
    for column in ("seq", "time (UTC)", "actor", "action", "entity", "reason"):
        table.add_column(column)
    for event in admin.audit.log(limit=12, newest_first=True)[::-1]:
        entity = f"{event.entity_type}:{(event.entity_id or '')[:14]}" if event.entity_type else ""
        table.add_row(str(event.seq), event.ts[:19].replace("T", " "), event.actor_name, event.action, entity, event.reason or "")
    console.print(table)

    admin.close()
    home = HOME.resolve()
    console.print(f"\n[bold]Done in {time.perf_counter() - started:.1f} s.[/] Where to look:")
    console.print(f"  workspace      {home}/  (gxpml.toml, gxpml.db, artifacts/, keys/ — owner-only)")
    console.print(f"  audit export   {home}/exports/audit-trail.jsonl (+ .csv with its signed manifest)")
    console.print("  try            .venv/bin/gxpml --workspace demo-workspace login --user audrey   "
                  f"(password: {PASSWORDS['audrey']!r})")
    console.print("                 .venv/bin/gxpml --workspace demo-workspace audit log --limit 20")
    console.print("                 .venv/bin/gxpml --workspace demo-workspace audit verify")
    console.print("                 .venv/bin/gxpml audit verify --file demo-workspace/exports/audit-trail.jsonl")


if __name__ == "__main__":
    main()
