"""Generate the sample archives: `python samples/generate.py` rewrites samples/*.ndjson.

Four realistic sources (ecommerce, b2b, mobile, video), a few hundred messages each, in the
collector's archive shape (batch fields merged, `receivedAt` and `writeKey` added), valid per
the spec and clean under the rules. And samples/bad/<rule_code>.ndjson: one small file per
malformed case, each flagged by the rule it is named after. A fixed seed and a fixed clock make
every run byte-identical, so the samples can be reviewed as diffs.
"""

from __future__ import annotations

import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

SEED = 20260302
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
HERE = Path(__file__).resolve().parent

Message = dict[str, Any]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Source:
    """One sending app: its write key, its SDK's context, and a clock that moves forward."""

    def __init__(self, rng: random.Random, write_key: str, platform: str) -> None:
        self.rng = rng
        self.write_key = write_key
        self.platform = platform
        self.messages: list[Message] = []

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def user_id(self, prefix: str = "usr") -> str:
        return f"{prefix}_" + "".join(self.rng.choices("abcdefghjkmnpqrstuvwxyz", k=10))

    def context(self, device: dict[str, Any], page: dict[str, Any] | None) -> dict[str, Any]:
        library = {
            "web": {"name": "analytics.js", "version": "npm:next-1.72.0"},
            "ios": {"name": "analytics-swift", "version": "1.6.2"},
            "android": {"name": "analytics-kotlin", "version": "1.16.3"},
            "server": {"name": "analytics-python", "version": "2.3.3"},
        }[device["platform"]]
        context: dict[str, Any] = {"library": library}
        if device["platform"] == "web":
            context.update(
                ip=device["ip"], locale=device["locale"], userAgent=device["user_agent"],
                page=page or {},
            )
        elif device["platform"] in ("ios", "android"):
            context.update(
                ip=device["ip"], locale=device["locale"], timezone=device["timezone"],
                app=device["app"], device=device["device"], os=device["os"],
                network={"wifi": self.rng.random() < 0.7, "cellular": True},
                screen=device["screen"],
            )
        return context

    def emit(
        self, when: datetime, device: dict[str, Any], kind: str, *, user: str | None,
        anonymous: str | None, page: dict[str, Any] | None = None, **fields: Any,
    ) -> None:
        """Record one message as the collector would have archived it: the client's clock is a
        few seconds off (kept as originalTimestamp, sentAt) and timestamp is skew-corrected."""
        mobile = device["platform"] in ("ios", "android")
        sent = when + timedelta(milliseconds=self.rng.randint(2000, 25000) if mobile else self.rng.randint(5, 400))
        received = sent + timedelta(milliseconds=self.rng.randint(20, 180))
        clock = device["clock"]
        message: Message = {"type": kind}
        if anonymous:
            message["anonymousId"] = anonymous
        if user:
            message["userId"] = user
        message.update(fields)
        web = device["platform"] == "web"
        message.update(
            messageId=("ajs-next-" + self.rng.randbytes(16).hex()) if web else self.uid(),
            context=self.context(device, page),
            integrations={},
            sentAt=iso(sent + clock),
            writeKey=self.write_key,
            receivedAt=iso(received),
            timestamp=iso(received - (sent - when)),
            originalTimestamp=iso(when + clock),
        )
        self.messages.append(message)


# --- devices -------------------------------------------------------------------------------

AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
]
LOCALES = ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "nl-NL"]
TIMEZONES = ["America/New_York", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/Los_Angeles"]


def web_device(rng: random.Random) -> dict[str, Any]:
    return {
        "platform": "web", "ip": f"203.0.113.{rng.randint(1, 254)}",
        "locale": rng.choice(LOCALES), "user_agent": rng.choice(AGENTS), "clock": clock_offset(rng),
    }


def mobile_device(source: Source, app: dict[str, Any]) -> dict[str, Any]:
    rng = source.rng
    if rng.random() < 0.55:
        platform, os_info = "ios", {"name": "iOS", "version": rng.choice(["17.4.1", "17.5", "18.0"])}
        hardware = {"manufacturer": "Apple", "model": rng.choice(["iPhone15,2", "iPhone16,1", "iPhone14,5"]), "type": "ios"}
        screen = {"width": 393, "height": 852, "density": 3}
    else:
        platform, os_info = "android", {"name": "Android", "version": rng.choice(["13", "14"])}
        hardware = {"manufacturer": rng.choice(["Google", "samsung"]), "model": rng.choice(["Pixel 8", "SM-S911B"]), "type": "android"}
        screen = {"width": 1080, "height": 2400, "density": 2.625}
    hardware["id"] = source.uid()
    return {
        "platform": platform, "ip": f"198.51.100.{rng.randint(1, 254)}",
        "locale": rng.choice(LOCALES), "timezone": rng.choice(TIMEZONES),
        "app": app, "device": hardware, "os": os_info, "screen": screen, "clock": clock_offset(rng),
    }


SERVER = {"platform": "server", "clock": timedelta(0)}


def clock_offset(rng: random.Random) -> timedelta:
    """How far a device's clock is off: a few seconds either way (under the skew warning)."""
    return timedelta(milliseconds=rng.randint(-20000, 20000))


def page_context(site: str, path: str, title: str, referrer: str = "") -> dict[str, Any]:
    return {"path": path, "referrer": referrer, "search": "", "title": title, "url": f"https://{site}{path}"}


# --- ecommerce -----------------------------------------------------------------------------

CATALOG = [
    ("Ceramic Pour-Over Set", "Kitchen", 42.0), ("Linen Apron", "Kitchen", 28.5),
    ("Cast Iron Skillet", "Kitchen", 64.0), ("Wool Throw Blanket", "Home", 89.0),
    ("Beeswax Candle Trio", "Home", 24.0), ("Walnut Serving Board", "Kitchen", 55.0),
    ("Stoneware Mug", "Kitchen", 18.0), ("Cotton Bath Towel", "Bath", 32.0),
    ("Glass Carafe", "Kitchen", 26.0), ("Rattan Basket", "Home", 38.0),
]


def ecommerce(rng: random.Random) -> list[Message]:
    source = Source(rng, "wk_shop_web", "web")
    site = "shop.example.com"
    products = [
        {"product_id": f"prod_{index + 101}", "sku": f"SKU-{2400 + index * 7}", "name": name,
         "category": category, "brand": "Hearth & Field", "price": price,
         "url": f"https://{site}/p/{name.lower().replace(' ', '-')}",
         "image_url": f"https://cdn.{site}/img/{index + 101}.jpg"}
        for index, (name, category, price) in enumerate(CATALOG)
    ]
    for visitor in range(36):
        when = START + timedelta(minutes=visitor * 7 + rng.randint(0, 5))
        device = web_device(rng)
        anonymous, user = source.uid(), None

        def step(kind: str, path: str, title: str, **fields: Any) -> None:
            nonlocal when
            when += timedelta(seconds=rng.randint(4, 40))
            page = page_context(site, path, title, f"https://{site}/")
            source.emit(when, device, kind, user=user, anonymous=anonymous, page=page, **fields)

        step("page", "/", "Hearth & Field", name="Home", properties=page_context(site, "/", "Hearth & Field"))
        query = rng.choice(["mug", "blanket", "skillet", "candle", "towel"])
        step("track", "/search", "Search", event="Products Searched", properties={"query": query})
        listed = rng.sample(products, 4)
        step("track", "/c/kitchen", "Kitchen", event="Product List Viewed", properties={
            "list_id": "kitchen_best_sellers", "category": "Kitchen",
            "products": [{**item, "position": at + 1} for at, item in enumerate(listed)],
        })
        cart: list[dict[str, Any]] = []
        for item in rng.sample(listed, rng.randint(1, 3)):
            path = f"/p/{item['product_id']}"
            step("track", path, item["name"], event="Product Clicked", properties={**item, "position": listed.index(item) + 1})
            step("track", path, item["name"], event="Product Viewed", properties={**item, "currency": "USD", "value": item["price"]})
            if rng.random() < 0.75:
                line = {**item, "quantity": rng.randint(1, 2)}
                cart.append(line)
                step("track", path, item["name"], event="Product Added", properties={**line, "cart_id": f"cart_{visitor}"})
        if not cart or rng.random() < 0.2:
            continue  # browsed, left
        step("track", "/cart", "Cart", event="Cart Viewed", properties={"cart_id": f"cart_{visitor}", "products": cart})
        if rng.random() < 0.15:
            continue  # abandoned the cart
        user = source.user_id("cus")
        step("identify", "/checkout", "Checkout", traits={
            "email": f"{user}@mail.example.com", "firstName": rng.choice(["Ana", "Ben", "Chloe", "Dev", "Emi"]),
            "createdAt": iso(when), "newsletter": rng.random() < 0.5,
        })
        order = f"ord_{visitor + 5000}"
        subtotal = round(sum(line["price"] * line["quantity"] for line in cart), 2)
        step("track", "/checkout", "Checkout", event="Checkout Started", properties={
            "order_id": order, "value": subtotal, "revenue": subtotal, "currency": "USD", "products": cart,
        })
        checkout = f"chk_{visitor + 700}"
        for number, option in ((1, "shipping"), (2, "payment")):
            step("track", "/checkout", "Checkout", event="Checkout Step Viewed", properties={"checkout_id": checkout, "step": number})
            chosen = {"shipping_method": "ground"} if option == "shipping" else {"payment_method": "card"}
            step("track", "/checkout", "Checkout", event="Checkout Step Completed", properties={
                "checkout_id": checkout, "step": number, **chosen,
            })
        discount = 0.0
        if rng.random() < 0.3:
            discount = 5.0
            step("track", "/checkout", "Checkout", event="Coupon Applied", properties={
                "order_id": order, "cart_id": f"cart_{visitor}", "coupon_id": "spring5", "coupon_name": "SPRING5", "discount": discount,
            })
        step("track", "/checkout", "Checkout", event="Payment Info Entered", properties={
            "checkout_id": checkout, "order_id": order, "step": 2, "payment_method": rng.choice(["card", "paypal"]),
        })
        shipping, tax = 6.0, round(subtotal * 0.08, 2)
        step("track", "/order/thanks", "Thank you", event="Order Completed", properties={
            "checkout_id": checkout, "order_id": order, "affiliation": "Online Store",
            "total": round(subtotal - discount + shipping + tax, 2), "subtotal": subtotal, "revenue": round(subtotal - discount, 2),
            "shipping": shipping, "tax": tax, "discount": discount, "currency": "USD", "products": cart,
        })
    return source.messages


# --- b2b SaaS ------------------------------------------------------------------------------

COMPANIES = [
    ("Northwind Logistics", "Logistics", 240), ("Bluebird Health", "Healthcare", 1200),
    ("Quarry Analytics", "Software", 45), ("Tidewater Bank", "Financial Services", 3100),
    ("Maple Studio", "Design", 12), ("Copperline Energy", "Energy", 560),
    ("Juniper Schools", "Education", 800), ("Atlas Freight", "Logistics", 95),
]
FEATURES = ["dashboards", "alerts", "exports", "sso", "audit_log"]


def b2b(rng: random.Random) -> list[Message]:
    source = Source(rng, "wk_app_prod", "web")
    site = "app.example.io"
    for index, (company, industry, employees) in enumerate(COMPANIES):
        group_id = f"acct_{index + 31}"
        plan = rng.choice(["starter", "team", "enterprise"])
        when = START + timedelta(minutes=index * 11)
        admin = ""
        for seat in range(rng.randint(2, 4)):
            device = web_device(rng)
            anonymous = source.uid()
            user = source.user_id()
            admin = admin or user
            first = rng.choice(["Maya", "Omar", "Lena", "Theo", "Priya", "Jonas", "Ines"])
            email = f"{first.lower()}.{seat}@{company.split()[0].lower()}.example"
            when += timedelta(minutes=rng.randint(1, 9))

            def send(kind: str, path: str, title: str, **fields: Any) -> None:
                nonlocal when
                when += timedelta(seconds=rng.randint(3, 90))
                source.emit(when, device, kind, user=user, anonymous=anonymous,
                            page=page_context(site, path, title), **fields)

            user_saved, user = user, None
            send("page", "/signup", "Sign up", name="Sign Up", properties=page_context(site, "/signup", "Sign up"))
            user = user_saved
            send("alias", "/signup", "Sign up", previousId=anonymous)
            send("identify", "/welcome", "Welcome", traits={
                "email": email, "firstName": first, "lastName": rng.choice(["Ortiz", "Khan", "Berg", "Okafor"]),
                "title": rng.choice(["Data Engineer", "Product Manager", "Analyst", "CTO"]),
                "createdAt": iso(when), "role": "admin" if seat == 0 else "member",
            })
            send("track", "/welcome", "Welcome", event="Signed Up", properties={"method": rng.choice(["email", "google"]), "plan": plan})
            send("group", "/welcome", "Welcome", groupId=group_id, traits={
                "name": company, "industry": industry, "employees": employees, "plan": plan,
                "website": f"https://{company.split()[0].lower()}.example",
            })
            if seat == 0:
                send("track", "/welcome", "Welcome", event="Account Created", properties={"account_name": company, "account_id": group_id, "plan": plan})
                send("track", "/settings/team", "Team", event="Trial Started", properties={"trial_days": 14, "plan": plan})
            for _ in range(rng.randint(3, 6)):
                feature = rng.choice(FEATURES)
                send("page", f"/{feature}", feature.replace("_", " ").title(), name=feature.replace("_", " ").title(),
                     properties=page_context(site, f"/{feature}", feature.title()))
                send("track", f"/{feature}", feature.title(), event="Feature Used", properties={"feature_name": feature, "account_id": group_id})
            if rng.random() < 0.5:
                send("track", "/reports", "Reports", event="Report Exported", properties={"format": rng.choice(["csv", "pdf"]), "row_count": rng.randint(10, 90000)})
            if seat == 0 and rng.random() < 0.6:
                send("track", "/settings/team", "Team", event="User Invited", properties={"invitee_role": "member", "account_id": group_id})
        if plan != "enterprise" and rng.random() < 0.5:
            when += timedelta(minutes=3)
            source.emit(when, SERVER, "track", user=admin, anonymous=None, event="Subscription Upgraded",
                        properties={"account_id": group_id, "from_plan": plan, "to_plan": "enterprise", "mrr": 1200.0})
    return source.messages


# --- mobile --------------------------------------------------------------------------------

SCREENS = ["Home", "Workout List", "Workout Detail", "Progress", "Settings"]


def mobile(rng: random.Random) -> list[Message]:
    source = Source(rng, "wk_fit_mobile", "mobile")
    app = {"name": "Stride", "version": "3.4.1", "build": "3410", "namespace": "com.example.stride"}
    for person in range(30):
        device = mobile_device(source, app)
        anonymous, user = source.uid(), None
        when = START + timedelta(minutes=person * 6 + rng.randint(0, 4))

        def send(kind: str, **fields: Any) -> None:
            nonlocal when
            when += timedelta(seconds=rng.randint(2, 60))
            source.emit(when, device, kind, user=user, anonymous=anonymous, **fields)

        if rng.random() < 0.4:
            send("track", event="Application Installed", properties={"version": "3.4.1", "build": "3410"})
        send("track", event="Application Opened", properties={"from_background": False, "version": "3.4.1", "build": "3410"})
        if rng.random() < 0.6:
            user = source.user_id("ath")
            send("identify", traits={"email": f"{user}@mail.example.com", "name": rng.choice(["Sam Lee", "Ada Park", "Noor Ali"]),
                                     "age": rng.randint(19, 64), "units": rng.choice(["metric", "imperial"])})
        for _ in range(rng.randint(2, 5)):
            screen = rng.choice(SCREENS)
            send("screen", name=screen, properties={"name": screen})
            if screen == "Workout Detail":
                kind = rng.choice(["run", "ride", "yoga", "strength"])
                send("track", event="Workout Started", properties={"workout_type": kind, "planned_minutes": rng.choice([20, 30, 45])})
                send("track", event="Workout Completed", properties={"workout_type": kind, "duration_seconds": rng.randint(900, 3000), "calories": rng.randint(120, 700)})
        send("track", event="Application Backgrounded", properties={})
        if rng.random() < 0.5:
            send("track", event="Application Opened", properties={"from_background": True, "version": "3.4.1", "build": "3410"})
            send("screen", name="Progress", properties={"name": "Progress"})
            send("track", event="Application Backgrounded", properties={})
    return source.messages


# --- video ---------------------------------------------------------------------------------

TITLES = [("Night Harbor", 2710, "Drama"), ("Cooking with Fire", 1480, "Food"), ("The Long Climb", 5400, "Documentary")]


def video(rng: random.Random) -> list[Message]:
    source = Source(rng, "wk_tv_web", "web")
    site = "watch.example.tv"
    for viewer in range(18):
        device = web_device(rng)
        anonymous = source.uid()
        user = source.user_id("vw") if rng.random() < 0.7 else None
        when = START + timedelta(minutes=viewer * 9 + rng.randint(0, 6))
        title, length, genre = rng.choice(TITLES)
        asset = f"asset_{TITLES.index((title, length, genre)) + 71}"
        session = source.uid()
        base = {"session_id": session, "video_player": "html5", "sound": 80, "full_screen": False, "bitrate": 4800, "livestream": False}
        content = {"asset_id": asset, "title": title, "genre": genre, "total_length": length, "program": title, "publisher": "Example TV"}
        path = f"/watch/{asset}"

        def send(event: str, **properties: Any) -> None:
            nonlocal when
            when += timedelta(seconds=rng.randint(1, 10))
            source.emit(when, device, "track", user=user, anonymous=anonymous,
                        page=page_context(site, path, title), event=event, properties={**base, **properties})

        source.emit(when, device, "page", user=user, anonymous=anonymous, page=page_context(site, path, title),
                    name="Watch", properties=page_context(site, path, title))
        send("Video Playback Started", content_asset_ids=[asset], position=0, total_length=length)
        send("Video Ad Started", asset_id="ad_spring", ad_type="pre-roll", total_length=15, position=0)
        send("Video Ad Completed", asset_id="ad_spring", ad_type="pre-roll", total_length=15, position=15)
        send("Video Content Started", **content, position=0)
        position = 0
        for _ in range(rng.randint(4, 9)):
            position += 10
            send("Video Content Playing", **content, position=position)
        if rng.random() < 0.5:
            send("Video Playback Paused", content_asset_id=asset, position=position)
            send("Video Playback Resumed", content_asset_id=asset, position=position)
        if rng.random() < 0.4:
            send("Video Content Completed", **content, position=length)
            send("Video Playback Completed", content_asset_ids=[asset], position=length, total_length=length)
        else:
            send("Video Playback Interrupted", content_asset_id=asset, position=position, method="browser_closed")
    return source.messages


SAMPLES: dict[str, Callable[[random.Random], list[Message]]] = {
    "ecommerce": ecommerce, "b2b": b2b, "mobile": mobile, "video": video,
}


# --- bad inputs: one per rule --------------------------------------------------------------

def _good() -> Message:
    return {
        "type": "track", "event": "Order Completed", "userId": "cus_bad", "anonymousId": "8f0e3c1a-5d2b-4c7e-9a61-0c2b7d9e4f13",
        "messageId": "ajs-next-5f1c0e2a9b7d4c3e8a6f1b2c3d4e5f60",
        "properties": {"order_id": "ord_1", "products": [{"product_id": "prod_101"}], "revenue": 42.0, "currency": "USD"},
        "context": {"library": {"name": "analytics.js", "version": "npm:next-1.72.0"}}, "integrations": {},
        "timestamp": "2026-03-02T09:00:00.000Z", "sentAt": "2026-03-02T09:00:00.100Z",
        "receivedAt": "2026-03-02T09:00:00.150Z", "writeKey": "wk_bad",
    }


def _with(**changes: Any) -> Message:
    """The good message with top-level changes; `...` removes a field."""
    return {key: value for key, value in {**_good(), **changes}.items() if value is not ...}


BAD: dict[str, list[Message]] = {
    "invalid_type": [_with(type="purchase"), _with(type=...)],
    "no_user_anon_id": [_with(userId=..., anonymousId=...)],
    "missing_event": [_with(event=...)],
    "invalid_event": [_with(event=42), _with(event=["Order Completed"])],
    "missing_group_id": [_with(type="group", event=..., properties=..., traits={"name": "Acme"})],
    "missing_previous_id": [_with(type="alias", event=..., properties=...)],
    "missing_user_id": [_with(type="alias", event=..., properties=..., userId=..., previousId="8f0e3c1a")],
    "event_name_case": [_with(event="order_completed", properties={}), _with(event="Purchase", properties={})],
    "dynamic_event_name": [_with(event="Order 50012 Completed", properties={}), _with(event="Viewed 2026-03-02", properties={})],
    "key_case": [_with(properties={"order_id": "o1", "products": [], "orderTotal": 12.0})],
    "dynamic_key": [_with(properties={"order_id": "o1", "products": [], "experiment_17": "variant_b"})],
    "reserved_type": [
        _with(properties={"order_id": "o1", "products": [], "revenue": "42.00"}),
        _with(type="identify", event=..., properties=..., traits={"email": 12345, "createdAt": "last tuesday"}),
    ],
    "missing_message_id": [_with(messageId=...)],
    "long_message_id": [_with(messageId="m" * 120)],
    "invalid_message_id": [_with(messageId=1), _with(messageId=True)],
    "bad_timestamp": [_with(timestamp="yesterday")],
    "future_timestamp": [_with(timestamp="2026-03-02T12:00:00.000Z")],
    "clock_skew": [_with(sentAt="2026-03-02T08:55:00.000Z", timestamp="2026-03-02T08:54:59.000Z")],
    "unknown_field": [_with(revenue=42.0)],
    "empty_id": [_with(userId="")],
    "ecommerce_property": [_with(properties={"revenue": 42.0, "currency": "USD"})],
}



def dump(messages: list[Message]) -> bytes:
    return b"".join(orjson.dumps(message) + b"\n" for message in messages)


# a good line, garbage, a JSON value that is not an object, a torn last line
BAD_LINES = dump([_good()]) + b'not json at all\n[1, 2]\n{"type": "track", "ev'


def generate(directory: Path = HERE) -> dict[Path, bytes]:
    """Every sample file and its bytes (pure: the caller writes them)."""
    files: dict[Path, bytes] = {}
    for offset, (name, build) in enumerate(SAMPLES.items()):
        messages = build(random.Random(SEED + offset))
        messages.sort(key=lambda message: message["receivedAt"])
        files[directory / f"{name}.ndjson"] = dump(messages)
    for code, content in BAD.items():
        files[directory / "bad" / f"{code}.ndjson"] = dump(content)
    files[directory / "bad" / "bad_line.ndjson"] = BAD_LINES
    return files


def main() -> int:
    for path, content in generate().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        lines = len(content.splitlines())
        print(f"{path.relative_to(HERE.parent)}: {lines} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
