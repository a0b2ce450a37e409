"""Default locations: where the archive and the collector's socket live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DEFAULT_PORT = 8088
DEFAULT_HOST = "127.0.0.1"

# Files segdebug writes beside archives, named after their archive (`X.ndjson` ->
# `X.rejected.ndjson`), so collectors sharing a folder never share one. They are not
# archives: replaying or validating a directory must not read refusal records, replay
# failures or checkpoints as messages.
REJECTED_SUFFIX = ".rejected.ndjson"
# Before side files were named after their archive, every collector wrote this one name;
# such files are still recognised (and skipped by directory scans).
LEGACY_REJECTED_NAME = "rejected.ndjson"
REJECTED_NAME = LEGACY_REJECTED_NAME  # the old name, for readers that look for it
COPY_NAME = "copied.json"
FAILED_SUFFIX = ".failed.ndjson"
CHECKPOINT_SUFFIX = ".replay-checkpoint.json"
ARCHIVE_EXTENSIONS = (".ndjson", ".jsonl", ".json")


def is_side_file(name: str) -> bool:
    """True for the files above, by name (compressed too): a directory of archives skips them."""
    if name.endswith(".gz"):
        name = name[:-3]
    return is_refusal_log(name) or name == COPY_NAME or name.endswith((FAILED_SUFFIX, CHECKPOINT_SUFFIX))


def is_refusal_log(path: str) -> bool:
    """A collector's refusal log (`X.rejected.ndjson`, or the legacy `rejected.ndjson`), by its
    file name, compressed too: its lines are refusal records, not messages."""
    name = os.path.basename(path)
    if name.endswith(".gz"):
        name = name[:-3]
    return name == LEGACY_REJECTED_NAME or name.endswith(REJECTED_SUFFIX)


def is_archive_name(name: str) -> bool:
    """An archive by its name: .ndjson, .jsonl or .json, or one of those gzipped; not a side
    file. What a directory of archives is read for (`validate DIR`)."""
    base = name[:-3] if name.endswith(".gz") else name
    return base.endswith(ARCHIVE_EXTENSIONS) and not is_side_file(name)


def data_dir() -> Path:
    """Per-user data dir ($XDG_DATA_HOME/segdebug, else ~/.local/share/segdebug)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "segdebug"


def default_archive(port: int | None = None) -> Path:
    """The archive a collector writes when not told otherwise; `port`: the one a collector on
    that port falls back to while another collector holds the shared default."""
    return data_dir() / ("archive.ndjson" if port is None else f"archive-{port}.ndjson")


def archive_stem(archive: Path) -> str:
    """The archive's name without its archive extension: `a.ndjson` -> `a`, `a.jsonl` -> `a`."""
    name = archive.name
    for extension in ARCHIVE_EXTENSIONS:
        if name.endswith(extension) and len(name) > len(extension):
            return name[: -len(extension)]
    return name


def rejected_path(archive: Path) -> Path:
    """Refused calls are kept beside the archive they were refused from, under its name:
    `X.ndjson` -> `X.rejected.ndjson`."""
    return archive.with_name(archive_stem(archive) + REJECTED_SUFFIX)


def legacy_rejected_path(archive: Path) -> Path:
    """Where a collector before named side files kept the refusals of `archive`."""
    return archive.with_name(LEGACY_REJECTED_NAME)


def runtime_dir() -> Path:
    """A private (0700) directory for sockets: $XDG_RUNTIME_DIR/segdebug when that directory
    exists, else segdebug-UID under the temp dir (also when XDG_RUNTIME_DIR names a missing one)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():  # already private to this user
        directory = Path(runtime) / "segdebug"
    else:  # the temp dir is shared by every user: the name says whose it is
        directory = Path(tempfile.gettempdir()) / f"segdebug-{os.getuid()}"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def default_socket(port: int = DEFAULT_PORT) -> Path:
    """The socket of the collector on `port`, so several collectors can run side by side."""
    return runtime_dir() / f"collector-{port}.sock"
