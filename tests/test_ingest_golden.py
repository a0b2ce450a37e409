"""Ingest gives, byte for byte, what it gave before its per-message work was made cheaper
(issue 16): archive lines, refusal texts, problems, answers and counts of a corpus of calls
(samples as batches and single calls, bad samples, odd inputs). How the golden file was made:
tests/data/ingest_corpus.py."""

from __future__ import annotations

import gzip
from itertools import zip_longest

import orjson

from tests.data.ingest_corpus import GOLDEN, records


def test_ingest_output_is_unchanged_on_the_corpus() -> None:
    with gzip.open(GOLDEN, "rb") as golden:
        expected = golden.read().splitlines()
    count = 0
    for want, got in zip_longest(expected, records()):
        assert want is not None and got is not None, "the corpus and the golden file differ in length"
        if got != want:
            name = orjson.loads(want)["call"]
            old, new = orjson.loads(want), orjson.loads(got)
            for index, (a, b) in enumerate(zip(old["results"], new["results"], strict=False)):
                assert a == b, f"{name}: result {index} differs"
            assert old == new, f"{name}: the call's answer or counts differ"
        count += 1
    assert count == len(expected) > 6000
