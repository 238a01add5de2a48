"""The compiled rules engine: build `rules/` with mypyc in place, tell whether the loaded build is fresh, remove it.

`rules/` is plain, mypy-strict Python. mypyc compiles every module of it (package `__init__` files stay Python) to
C extensions placed beside the sources, where Python prefers them; the engine then runs about twice as fast with
identical findings (tests/monitor/test_native.py compares the two). A stamp beside them records a digest of the
sources they were built from, so a build older than its sources is told apart ("stale") and never used unknowingly:
`./dev` rebuilds it, the CLI and the tests refuse to run on it. Without a C compiler the engine stays pure Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
STAMP_NAME = ".native-stamp.json"
GROUP = "rules._native"
"""mypyc's group name: its shared library is rules/_native__mypyc.*.so, inside the package."""

State = Literal["compiled", "pure", "stale"]

_SETUP = """\
import sys
from mypyc.build import mypycify
from setuptools import setup

paths = sys.argv[1:sys.argv.index("--")]
sys.argv = [sys.argv[0], *sys.argv[sys.argv.index("--") + 1:]]
setup(name="callwarden-rules-native", ext_modules=mypycify(
    ["--config-file", "mypy.ini", *paths], opt_level="3", group_name=%r))
"""
_MYPY_INI = "[mypy]\nstrict = True\nignore_missing_imports = True\n"
"""Type stubs (types-PyYAML) may be absent where it is built, e.g. the image: untyped imports are then Any."""


class NativeBuildError(RuntimeError):
    """The compiled engine could not be built (no compiler, no mypyc, a compile error); the message says why."""


@dataclass(frozen=True, slots=True)
class NativeStatus:
    """Whether `rules/` holds a compiled build, and whether it was built from the sources now beside it."""

    state: State
    modules: int
    detail: str


def compiled_sources(rules_dir: Path = RULES_DIR) -> list[Path]:
    """The modules mypyc compiles: every .py under rules/ but the package `__init__` files, sorted."""
    return sorted(p for p in rules_dir.rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts)


def extensions(rules_dir: Path = RULES_DIR) -> list[Path]:
    """The compiled extension modules now in rules/ (and its subpackages)."""
    return sorted(rules_dir.rglob("*.so")) + sorted(rules_dir.rglob("*.pyd"))


def source_digest(rules_dir: Path = RULES_DIR) -> str:
    """sha256 over every rules/ source file's relative path and bytes, and the Python version (the ABI built for)."""
    digest = hashlib.sha256(f"python {sys.version_info[:2]}".encode())
    for path in sorted(rules_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(b"\0" + path.relative_to(rules_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def status(rules_dir: Path = RULES_DIR) -> NativeStatus:
    """The build in rules/: pure (no extension modules), compiled (built from these sources) or stale (else)."""
    built = extensions(rules_dir)
    if not built:
        return NativeStatus("pure", 0, "rules/ runs as pure Python")
    stamp_path = rules_dir / STAMP_NAME
    try:
        stamp = json.loads(stamp_path.read_text())
        recorded = stamp["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        return NativeStatus("stale", len(built), f"compiled modules without a readable {STAMP_NAME}")
    if recorded != source_digest(rules_dir):
        return NativeStatus("stale", len(built), "compiled modules were built from other sources than rules/ holds")
    version = stamp.get("mypyc", "?")
    return NativeStatus("compiled", len(built), f"{len(built)} extension modules built by mypyc {version}")


def pure_copy(target: Path, rules_dir: Path = RULES_DIR) -> Path:
    """Copy rules/ sources (no extension modules, stamp or caches) to target/rules; return target/rules."""
    copied = target / "rules"
    shutil.copytree(rules_dir, copied, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", STAMP_NAME))
    return copied


def stale_message(current: NativeStatus) -> str:
    """What to tell a user whose rules/ build is stale, and the two ways out."""
    return (
        f"the compiled rules engine is stale: {current.detail}. Rebuild it with `callwarden native build` "
        "(or `./dev`), or run pure Python with `callwarden native clean`."
    )


def clean(rules_dir: Path = RULES_DIR) -> int:
    """Remove the compiled modules and their stamp; the number of files removed."""
    removed = 0
    for path in [*extensions(rules_dir), rules_dir / STAMP_NAME]:
        if path.exists():
            path.unlink()
            removed += 1
    return removed


def build(rules_dir: Path = RULES_DIR, jobs: int = 2, force: bool = False) -> NativeStatus:
    """Compile rules/ with mypyc (in a scratch copy) and install the extensions beside the sources.

    Does nothing when the build is already fresh (unless `force`). Raises NativeBuildError with the compiler's
    last lines when a step fails; rules/ is then left as it was."""
    current = status(rules_dir)
    if not force and current.state == "compiled":
        return current
    try:
        import mypyc  # noqa: F401  (only to tell a missing mypyc apart from a compile error)
    except ImportError as exc:
        raise NativeBuildError("mypyc is not installed (pip install mypy)") from exc
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        raise NativeBuildError("no C compiler (cc/gcc) found; install gcc (Debian: apt-get install gcc)")
    digest = source_digest(rules_dir)
    with tempfile.TemporaryDirectory(prefix="callwarden-native-") as scratch:
        work = Path(scratch)
        pure_copy(work, rules_dir)
        (work / "mypy.ini").write_text(_MYPY_INI)
        (work / "setup_native.py").write_text(_SETUP % GROUP)
        paths = [p.relative_to(work).as_posix() for p in compiled_sources(work / "rules")]
        command = [sys.executable, "setup_native.py", *paths, "--", "build_ext", "--inplace", "-j", str(jobs)]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise NativeBuildError(f"mypyc build failed (exit {done.returncode}):\n{tail}")
        _install(work / "rules", rules_dir, digest)
    return status(rules_dir)


def _install(built_dir: Path, rules_dir: Path, digest: str) -> None:
    """Move the built extensions into rules/ (each by an atomic rename), drop old ones, then write the stamp."""
    (rules_dir / STAMP_NAME).unlink(missing_ok=True)  # until the stamp is written, the build reads as stale
    fresh = {path.relative_to(built_dir) for path in extensions(built_dir)}
    if not fresh:
        raise NativeBuildError("mypyc reported success but produced no extension modules")
    for old in extensions(rules_dir):
        if old.relative_to(rules_dir) not in fresh:
            old.unlink()
    for relative in sorted(fresh):
        target = rules_dir / relative
        part = target.with_name(target.name + ".part")
        shutil.copy2(built_dir / relative, part)
        os.replace(part, target)
    import mypy.version

    stamp = {"digest": digest, "mypyc": mypy.version.__version__, "modules": len(fresh)}
    (rules_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n")


def loaded_build() -> str:
    """What this process runs: "compiled" when the imported rules engine is a C extension, else "pure"."""
    import rules.engine

    return "compiled" if (rules.engine.__file__ or "").endswith((".so", ".pyd")) else "pure"
