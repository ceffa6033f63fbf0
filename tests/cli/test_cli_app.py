"""The root of the command line: version, help, global options and how errors end a command.

(``cli`` and ``gxpml`` are the ``Cli`` runners of conftest.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gxpml as sdk
from gxpml.errors import ConfigError
from support import make_workspace


def test_version_prints_the_package_version(gxpml) -> None:
    assert gxpml("--version").stdout.strip() == f"gxpml {sdk.__version__}"


def test_help_lists_every_command(gxpml) -> None:
    out = gxpml("--help").stdout
    for command in ("init", "upgrade", "login", "logout", "whoami", "user", "role", "token", "audit", "artifacts", "keys"):
        assert f" {command} " in out


def test_a_missing_workspace_is_a_config_error_with_its_exit_code_and_no_traceback(gxpml, tmp_path: Path) -> None:
    result = gxpml("--workspace", str(tmp_path / "nowhere"), "whoami", code=ConfigError.exit_code)
    assert result.stderr.startswith("Error: No gxpml workspace at")
    assert "gxpml init" in result.stderr
    assert result.stdout == ""


def test_the_workspace_defaults_to_gxpml_home(gxpml, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXPML_HOME", str(home))
    assert gxpml.json("role", "list")["admin"] == ["*"]


def test_the_workspace_defaults_to_dot_gxpml_in_the_working_folder(gxpml, tmp_path: Path) -> None:
    make_workspace(tmp_path / ".gxpml", None).close()  # tmp_path is the working folder
    assert "admin" in gxpml.json("role", "list")


def test_error_messages_are_printed_verbatim_not_as_markup(cli, home: Path) -> None:
    # Messages name config sections such as [security]; rich must not take them for tags.
    config = home / "gxpml.toml"
    config.write_text(config.read_text() + "bogus_setting = 1\n")
    result = cli("whoami", code=ConfigError.exit_code)
    assert "unknown setting(s) in [security]: bogus_setting" in result.stderr


def test_usage_errors_exit_2(cli) -> None:
    result = cli("user", "disable", "someone", code=2)
    assert "Missing option '--reason'" in result.output


def test_the_installed_script_ends_with_the_error_exit_code(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("gxpml")
    if not script.exists():
        pytest.skip("the gxpml console script is not installed in this environment")
    env = {**os.environ, "GXPML_HOME": str(tmp_path / "nowhere")}
    done = subprocess.run([str(script), "whoami"], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == ConfigError.exit_code
    assert done.stderr.startswith("Error: No gxpml workspace")
    assert "Traceback" not in done.stderr


def test_python_dash_m_gxpml_runs_the_same_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "gxpml", "--version"], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"gxpml {sdk.__version__}"
