"""Benchmark: `segdebug validate` against a plain orjson parse loop over the same file.

    .venv/bin/python bench/validate.py [--events 1000000] [--repeat 1]

Builds an archive of N events in a temp dir from the samples (fresh messageIds, about one
line in 500 from samples/bad so problems get tallied too), then times, in the same run:
  baseline  `for line in file: orjson.loads(line)`
  validate  debugger.validate.lint: the shared archive reader + every spec rule + the tally
and prints events/s for both and the ratio baseline_time / validate_time (goal >= 0.3).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Callable

import orjson

from debugger.validate import lint

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def build_archive(path: Path, events: int) -> None:
    """N lines cycled from the good samples, with a bad-corpus line every 500."""
    good = [orjson.loads(line) for p in sorted(SAMPLES.glob("*.ndjson")) for line in p.read_bytes().splitlines()]
    bad = [line for p in sorted((SAMPLES / "bad").glob("*.ndjson")) for line in p.read_bytes().splitlines()]
    cycle_good, cycle_bad = itertools.cycle(good), itertools.cycle(bad)
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for index in range(events):
            if index % 500 == 499:
                chunk.append(next(cycle_bad) + b"\n")
            else:
                message = next(cycle_good)
                message["messageId"] = f"bench-{index:08d}"
                chunk.append(orjson.dumps(message) + b"\n")
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))


def parse_loop(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                pass
            count += 1
    return count


def validate(path: Path) -> int:
    return lint([path]).lines


def best_time(run: Callable[[Path], int], path: Path, repeat: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = run(path)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="archive size (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-") as directory:
        path = Path(directory) / "archive.ndjson"
        build_archive(path, args.events)
        size = path.stat().st_size / 1e6
        print(f"archive: {args.events:,} events, {size:,.0f} MB (built from samples/)")
        parse_lines(path)  # warm the page cache so neither side pays for the first read
        base, n_base = best_time(parse_loop, path, args.repeat)
        lint_time, n_lint = best_time(validate, path, args.repeat)
    assert n_base == n_lint, (n_base, n_lint)
    print(f"baseline orjson parse loop: {base:7.2f} s  {n_base / base:12,.0f} events/s")
    print(f"segdebug validate:          {lint_time:7.2f} s  {n_lint / lint_time:12,.0f} events/s")
    print(f"ratio (baseline / validate): {base / lint_time:.2f}  (goal >= 0.3)")


def parse_lines(path: Path) -> None:
    with path.open("rb") as handle:
        for _ in handle:
            pass


if __name__ == "__main__":
    main()
