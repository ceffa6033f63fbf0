"""``gxpml init`` and ``gxpml upgrade``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from gxpml.config import load_settings
from gxpml.errors import Conflict, PasswordPolicyError
from support import ADMIN_PASSWORD, PASSWORD


@pytest.fixture
def init(gxpml) -> Callable[..., Result]:
    """``init(TARGET, *extra, code=0)``: ``gxpml init TARGET --admin alice ...`` with cheap argon2
    and the password in GXPML_PASSWORD (``password=None``: typed at the prompt)."""

    def run(target: Path | None, *extra: str, code: int = 0, password: str | None = ADMIN_PASSWORD,
            input: str | None = None) -> Result:
        args = ["init", *([str(target)] if target else []), "--admin", "alice", "--admin-name", "Alice Smith"]
        return gxpml(*args, *gxpml.FAST_INIT, *extra, code=code, input=input, env={"GXPML_PASSWORD": password})

    return run


def test_init_creates_a_workspace_and_prints_where_things_are(init, tmp_path: Path) -> None:
    result = init(tmp_path / "lab")
    settings = load_settings(tmp_path / "lab")
    assert settings.workspace_id in result.stdout
    assert str(tmp_path / "lab") in result.stdout
    assert settings.security.argon2_memory_kib == 1024  # --security reached the config
    assert ADMIN_PASSWORD not in result.output
    assert "gxpml login --user alice" in result.stderr


def test_init_prompts_twice_for_the_password_without_echoing_it(init, gxpml, tmp_path: Path) -> None:
    result = init(tmp_path / "lab", password=None, input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert ADMIN_PASSWORD not in result.output
    # The password typed is the one set: the administrator can log in with it.
    gxpml("--workspace", str(tmp_path / "lab"), "login", "--user", "alice", env={"GXPML_PASSWORD": ADMIN_PASSWORD})


def test_init_takes_the_folder_from_the_global_workspace_option(gxpml, tmp_path: Path) -> None:
    gxpml("--workspace", str(tmp_path / "lab"), "init", "--admin", "alice", "--admin-name", "Alice Smith",
          *gxpml.FAST_INIT, env={"GXPML_PASSWORD": ADMIN_PASSWORD})
    assert (tmp_path / "lab" / "gxpml.toml").is_file()


def test_init_options_reach_the_config(init, tmp_path: Path) -> None:
    init(tmp_path / "lab", "--no-encryption", "--artifact-url", str(tmp_path / "objects"), "--admin-email", "alice@example.com")
    settings = load_settings(tmp_path / "lab")
    assert settings.encryption is False
    assert settings.artifact_url == str(tmp_path / "objects")


def test_init_refuses_a_folder_that_holds_a_workspace(init, home: Path) -> None:
    result = init(home, code=Conflict.exit_code)
    assert "holds a gxpml workspace already" in result.stderr


def test_init_with_a_weak_password_fails_and_leaves_nothing_behind(init, tmp_path: Path) -> None:
    result = init(tmp_path / "lab", password="short", code=PasswordPolicyError.exit_code)
    assert "too short" in result.stderr
    assert not (tmp_path / "lab").exists()


def test_init_rejects_a_malformed_security_setting(init, tmp_path: Path) -> None:
    result = init(tmp_path / "lab", "--security", "argon2_time_cost", code=2)
    assert "KEY=INTEGER" in result.output
    assert not (tmp_path / "lab").exists()


def test_upgrade_of_a_current_workspace_changes_nothing(cli) -> None:
    result = cli("upgrade")
    assert "nothing to upgrade" in result.stdout


def test_a_script_can_set_up_a_workspace_end_to_end(gxpml, tmp_path: Path) -> None:
    """``python -m gxpml`` as a deployment script calls it, passwords only in the environment."""
    env = {**os.environ, "GXPML_PASSWORD": ADMIN_PASSWORD, "GXPML_SESSION_FILE": str(tmp_path / "sessions.json")}

    def run(*args: str, **extra_env: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gxpml", "--workspace", str(tmp_path / "lab"), *args],
            check=False, capture_output=True, text=True, env={**env, **extra_env}, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("init", "--admin", "alice", "--admin-name", "Alice Smith", *gxpml.FAST_INIT)
    run("login", "--user", "alice")
    run("user", "add", "bob", "--name", "Bob Jones", "--role", "reviewer", GXPML_NEW_PASSWORD=PASSWORD)
    assert "user.create" in run("audit", "log", "--action", "user.create", "--json")
