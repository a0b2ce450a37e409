"""Benchmark: `segdebug validate` against a plain orjson parse loop over the same file.

    .venv/bin/python bench/validate.py [--events 1000000] [--repeat 1]

Builds an archive of N events in a temp dir from the samples (fresh messageIds, about one
line in 500 from samples/bad so problems get tallied too), then times, in the same run:
  baseline  `for line in file: orjson.loads(line)`
  validate  debugger.validate.lint: the shared archive reader + every spec rule + the tally
and prints events/s for both and the ratio baseline_time / validate_time (goal >= 0.3). The
ratio uses the process's CPU time, which other work on a shared machine disturbs far less
than wall time; wall time is printed too.
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


class Timing:
    """Best CPU and wall time over several runs, and the lines counted."""

    def __init__(self) -> None:
        self.cpu = self.wall = float("inf")
        self.count = 0

    def run(self, work: Callable[[Path], int], path: Path) -> None:
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        self.count = work(path)
        self.cpu = min(self.cpu, time.process_time() - start_cpu)
        self.wall = min(self.wall, time.perf_counter() - start_wall)


def compare(name: str, work: Callable[[Path], int], doc: str | None) -> None:
    """Time `work` against the parse loop over one archive, alternating, and print the ratio
    (goal >= 0.3): the harness bench/validate.py and bench/schema.py share."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="archive size (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, alternated; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-") as directory:
        path = Path(directory) / "archive.ndjson"
        build_archive(path, args.events)
        size = path.stat().st_size / 1e6
        print(f"archive: {args.events:,} events, {size:,.0f} MB (built from samples/)")
        parse_lines(path)  # warm the page cache so neither side pays for the first read
        base, measured = Timing(), Timing()
        for _ in range(args.repeat):  # alternate, so both see the same machine load
            base.run(parse_loop, path)
            measured.run(work, path)
    assert base.count == measured.count, (base.count, measured.count)
    label = f"segdebug {name}:"
    print("                             CPU s  events/s (CPU)    wall s")
    print(f"baseline orjson parse loop: {base.cpu:7.2f}  {base.count / base.cpu:14,.0f}  {base.wall:8.2f}")
    print(f"{label:<27} {measured.cpu:7.2f}  {measured.count / measured.cpu:14,.0f}  {measured.wall:8.2f}")
    print(f"ratio (baseline / {name}), CPU time: {base.cpu / measured.cpu:.2f}  (goal >= 0.3); "
          f"wall time: {base.wall / measured.wall:.2f}")


def main() -> None:
    compare("validate", validate, __doc__)


def parse_lines(path: Path) -> None:
    with path.open("rb") as handle:
        for _ in handle:
            pass


if __name__ == "__main__":
    main()
