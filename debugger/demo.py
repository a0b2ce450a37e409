"""`segdebug demo`: realistic traffic for the debugger, sent through the real HTTP API.

Built from the sample archives: each sample user's journey is replayed with fresh ids and
timestamps, several journeys interleaved so the stream mixes users and sources. About one
call in twelve carries a deliberate mistake (a badly named event, no user id, a wrong-typed
trait or property) so the debugger has something to point at.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import signal
import sys
import uuid
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

import aiohttp
import orjson

from debugger.delivery.target import check_http_url
from debugger.errors import CliError
from debugger.message import CALL_TYPES, now_iso

SAMPLES = Path(str(resources.files("debugger.samples")))  # the repository's samples/, installed
WRITE_KEY = "segdebug-demo"
ACTIVE_JOURNEYS = 6
MISTAKE_EVERY = 12  # one call in this many carries a deliberate mistake
BATCH_LIMIT = 100
_ARRIVAL_FIELDS = ("messageId", "timestamp", "originalTimestamp", "sentAt", "receivedAt")
_ID_FIELDS = ("anonymousId", "userId", "previousId")

Message = dict[str, Any]


class NoCollector(CliError, ConnectionError):
    """No collector answers at the demo's URL (a CliError for the CLI, a ConnectionError for
    `live --demo`, which runs the demo in the background)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no collector answers at {url} ({reason}); start one with `segdebug collect`", 1)


def load_journeys(directory: Path = SAMPLES) -> list[list[Message]]:
    """The sample messages grouped into per-user journeys, in their recorded order."""
    journeys: dict[str, list[Message]] = {}
    for path in sorted(directory.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            message = orjson.loads(line)
            who = message.get("anonymousId") or message.get("userId") or ""
            journeys.setdefault(f"{path.stem}:{who}", []).append(message)
    if not journeys:
        raise CliError(f"no sample archives in {directory}; run `python samples/generate.py`")
    return list(journeys.values())


def refresh(journey: list[Message], rng: random.Random) -> list[bytes]:
    """A journey with fresh user ids (consistently renamed, emails included), serialised
    without the arrival fields the SDK and collector set (the sample's write key stays, so
    the demo looks like several sources)."""
    renames: dict[str, str] = {}
    for message in journey:
        for field in _ID_FIELDS:
            old = message.get(field)
            if isinstance(old, str) and old and old not in renames:
                renames[old] = _fresh_id(old, rng)
    pattern = re.compile("|".join(re.escape(old) for old in sorted(renames, key=len, reverse=True)))
    fresh = []
    for message in journey:
        trimmed = {key: value for key, value in message.items() if key not in _ARRIVAL_FIELDS}
        text = orjson.dumps(trimmed).decode()
        fresh.append(pattern.sub(lambda m: renames[m.group(0)], text).encode() if renames else text.encode())
    return fresh


def _fresh_id(old: str, rng: random.Random) -> str:
    if "_" in old and len(old) < 40:  # usr_xxxxxxxxxx style: keep the prefix
        prefix = old.split("_", 1)[0]
        return f"{prefix}_" + "".join(rng.choices("abcdefghjkmnpqrstuvwxyz", k=10))
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- deliberate mistakes -------------------------------------------------------------------


def _bad_name(message: Message, rng: random.Random) -> bool:
    event = message.get("event")
    if message.get("type") != "track" or not isinstance(event, str):
        return False
    message["event"] = rng.choice([event.lower().replace(" ", "_"), f"{event} {rng.randint(1000, 99999)}"])
    return True


def _no_user(message: Message, rng: random.Random) -> bool:
    if message.get("type") == "alias":
        return False
    message.pop("userId", None)
    message.pop("anonymousId", None)
    return True


def _wrong_type(message: Message, rng: random.Random) -> bool:
    if message.get("type") == "identify" and isinstance(message.get("traits"), dict):
        message["traits"]["email"] = rng.randint(10_000, 99_999)
        return True
    properties = message.get("properties")
    if message.get("type") == "track" and isinstance(properties, dict):
        properties["revenue"] = f"{rng.uniform(5, 300):.2f}"
        return True
    return False


MISTAKES: tuple[Callable[[Message, random.Random], bool], ...] = (_bad_name, _no_user, _wrong_type)


class Traffic:
    """An endless, interleaved stream of demo messages from a few concurrent journeys."""

    def __init__(self, journeys: list[list[Message]], rng: random.Random | None = None) -> None:
        self.journeys = journeys
        self.rng = rng or random.Random()
        self.active: list[Iterator[bytes]] = [self._start() for _ in range(ACTIVE_JOURNEYS)]
        self.count = 0

    def _start(self) -> Iterator[bytes]:
        return iter(refresh(self.rng.choice(self.journeys), self.rng))

    def next(self) -> Message:
        """The next message, stamped now, sometimes with a deliberate mistake."""
        slot = self.rng.randrange(len(self.active))
        raw = next(self.active[slot], None)
        while raw is None:
            self.active[slot] = self._start()
            raw = next(self.active[slot], None)
        message: Message = orjson.loads(raw)
        message["messageId"] = str(uuid.uuid4())
        message["timestamp"] = now_iso()
        self.count += 1
        if self.count % MISTAKE_EVERY == 0:
            for mistake in self.rng.sample(MISTAKES, len(MISTAKES)):
                if mistake(message, self.rng):
                    break
        return message


# --- sending -------------------------------------------------------------------------------


async def send_demo(
    to: str, rate: float, duration: float | None, stop: asyncio.Event | None = None
) -> int:
    """Send demo traffic to the collector at `to` at `rate` events/s for `duration` seconds
    (until `stop` is set when None); returns the number of events sent. Raises NoCollector
    when nothing answers. Calls due together (when sending lags) go as one /v1/batch."""
    base = _base_url(to)
    traffic = Traffic(load_journeys())
    stop = stop or asyncio.Event()
    total = math.ceil(duration * rate - 1e-9) if duration is not None else None
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set() and (total is None or sent < total):
            due = math.floor((loop.time() - start) * rate) + 1 - sent
            if total is not None:
                due = min(due, total - sent)
            if due > 0:
                batch = [traffic.next() for _ in range(min(due, BATCH_LIMIT))]
                await _post(session, base, batch)
                sent += len(batch)
                continue
            wait = start + sent / rate - loop.time()
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.001))
            except asyncio.TimeoutError:
                pass
    return sent


async def _post(session: aiohttp.ClientSession, base: str, batch: list[Message]) -> None:
    """One call to its own endpoint, several as a batch, the way SDKs send them."""
    first = batch[0]
    if len(batch) == 1:
        kind = first.get("type")
        path = f"/v1/{kind}" if kind in CALL_TYPES else "/v1/track"
        body = {"writeKey": WRITE_KEY, **first, "sentAt": now_iso()}
    else:
        path = "/v1/batch"
        body = {"batch": batch, "sentAt": now_iso(), "writeKey": first.get("writeKey", WRITE_KEY)}
    try:
        async with session.post(
            base + path, data=orjson.dumps(body), headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            if response.status == 401:
                raise CliError(f"the collector at {base} refused the demo write key {WRITE_KEY!r} (401)", 1)
            if response.status in (404, 405):  # a server, but no tracking API at this URL (QA:
                # `--to .../nope` reported every call "sent"); 400s are the demo's own mistakes
                raise NoCollector(base, f"POST {path} answers {response.status}")
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as error:
        raise NoCollector(base, _reason(error)) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    if isinstance(getattr(error, "os_error", None), ConnectionRefusedError):
        return "connection refused"
    return str(error) or type(error).__name__


def _base_url(to: str) -> str:
    try:
        check_http_url(to)
    except ValueError as error:
        raise CliError(f"--to: {error}") from None
    return to.strip().rstrip("/").removesuffix("/v1")


def run_demo(to: str, rate: float, duration: float | None) -> None:
    """The `segdebug demo` command: send until done or Ctrl-C, then say how many were sent."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await send_demo(to, rate, duration, stop)

    _base_url(to)
    until = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
    print(f"sending demo traffic to {to} at {rate:g} events/s {until}", file=sys.stderr)
    sent = asyncio.run(main())
    print(f"sent {sent} demo events to {to}", file=sys.stderr)
