"""Benchmark: `segdebug schema` against a plain orjson parse loop over the same file.

    .venv/bin/python bench/schema.py [--events 1000000] [--repeat 2]

Builds the archive as bench/validate.py does (N events cycled from samples/, fresh
messageIds, a bad-corpus line every 500) in a temp dir, then times, alternating, in the
same run:
  baseline  `for line in file: orjson.loads(line)`
  schema    debugger.schema_command.fold_archives: the shared archive reader, one parse per
            line, the schema fold, and the final snapshot (every flag computed)
and prints events/s for both and the ratio baseline_time / schema_time (goal >= 0.3), on
process CPU time (less disturbed by other work on a shared machine) and on wall time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import compare  # noqa: E402  (bench/validate.py)

from debugger.schema_command import fold_archives  # noqa: E402


def schema(path: Path) -> int:
    folded = fold_archives([str(path)])
    assert folded.schema.events, "no events folded"
    return folded.lines


def main() -> None:
    compare("schema", schema, __doc__)


if __name__ == "__main__":
    main()
