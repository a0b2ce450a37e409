"""Default locations: where the archive and the collector's socket live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DEFAULT_PORT = 8088
DEFAULT_HOST = "127.0.0.1"

# Files segdebug writes beside archives. They are not archives: replaying or validating a
# directory must not read refusal records, replay failures or checkpoints as messages.
REJECTED_NAME = "rejected.ndjson"
COPY_NAME = "copied.json"
FAILED_SUFFIX = ".failed.ndjson"
CHECKPOINT_SUFFIX = ".replay-checkpoint.json"


def is_side_file(name: str) -> bool:
    """True for the files above, by name: a directory of archives skips them."""
    return name in (REJECTED_NAME, COPY_NAME) or name.endswith((FAILED_SUFFIX, CHECKPOINT_SUFFIX))


def data_dir() -> Path:
    """Per-user data dir ($XDG_DATA_HOME/segdebug, else ~/.local/share/segdebug)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "segdebug"


def default_archive() -> Path:
    """The archive a collector writes when not told otherwise."""
    return data_dir() / "archive.ndjson"


def rejected_path(archive: Path) -> Path:
    """Refused calls are kept beside the archive they were refused from."""
    return archive.with_name(REJECTED_NAME)


def runtime_dir() -> Path:
    """A private (0700) directory for sockets: $XDG_RUNTIME_DIR/segdebug, else under the temp dir."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and Path(runtime).is_dir() else Path(tempfile.gettempdir())
    directory = base / ("segdebug" if runtime else f"segdebug-{os.getuid()}")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def default_socket(port: int = DEFAULT_PORT) -> Path:
    """The socket of the collector on `port`, so several collectors can run side by side."""
    return runtime_dir() / f"collector-{port}.sock"
