"""replay's checkpoint: what mutation testing found unguarded (`make mutate`): the error a
user sees for an unreadable or foreign checkpoint names the file and says what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay import checkpoint as checkpoints


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{garbage", "is unreadable"),
        (b'{"fingerprint": "fp", "seed": "s"}', "is not a segdebug replay checkpoint"),  # no version
        (b'{"version": 2, "fingerprint": "fp", "seed": "s"}', "is not a segdebug replay checkpoint"),
        (b"[1]", "is not a segdebug replay checkpoint"),
        (b'{"version": 1, "fingerprint": "fp", "seed": "s", "other": 1}', "is not a segdebug replay checkpoint"),
    ],
)
def test_a_bad_checkpoint_is_one_clear_error_naming_the_file(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "cp.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as error:
        checkpoints.load(path)
    assert str(error.value).startswith(f"checkpoint {path} {says}")
