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

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import Timing, build_archive, parse_lines, parse_loop  # noqa: E402  (bench/validate.py)

from debugger.schema_command import fold_archives  # noqa: E402


def schema(path: Path) -> int:
    folded = fold_archives([str(path)])
    assert folded.schema.events, "no events folded"
    return folded.lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="archive size (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, alternated; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-") as directory:
        path = Path(directory) / "archive.ndjson"
        build_archive(path, args.events)
        size = path.stat().st_size / 1e6
        print(f"archive: {args.events:,} events, {size:,.0f} MB (built from samples/)")
        parse_lines(path)  # warm the page cache so neither side pays for the first read
        base, fold = Timing(), Timing()
        for _ in range(args.repeat):  # alternate, so both see the same machine load
            base.run(parse_loop, path)
            fold.run(schema, path)
    assert base.count == fold.count, (base.count, fold.count)
    print("                             CPU s  events/s (CPU)    wall s")
    print(f"baseline orjson parse loop: {base.cpu:7.2f}  {base.count / base.cpu:14,.0f}  {base.wall:8.2f}")
    print(f"segdebug schema:            {fold.cpu:7.2f}  {fold.count / fold.cpu:14,.0f}  {fold.wall:8.2f}")
    print(f"ratio (baseline / schema), CPU time: {base.cpu / fold.cpu:.2f}  (goal >= 0.3); "
          f"wall time: {base.wall / fold.wall:.2f}")


if __name__ == "__main__":
    main()
