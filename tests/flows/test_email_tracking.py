"""The pure parts of email tracking: signed tokens, tracked links and UTM parameters, the open
pixel, and how machines' opens and clicks are told from people's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shoptrack.flows.tracking import (
    TrackingKey,
    TrackingToken,
    click_flag,
    open_flag,
    sign_tracking_token,
    track_links,
    verify_tracking_token,
    with_utm,
)
from shoptrack.ids import new_id

OLD = TrackingKey(1, b"k" * 32)
NEW = TrackingKey(2, b"n" * 32)
KEYS = {OLD.id: OLD.secret, NEW.id: NEW.secret}
UNSUBSCRIBE = "https://shoptrack.example.com/unsubscribe/abc.def"


def test_tokens_verify_with_any_known_key_and_nothing_else() -> None:
    delivery = new_id()
    opened = sign_tracking_token(OLD, TrackingToken("open", delivery))
    clicked = sign_tracking_token(NEW, TrackingToken("click", delivery, 3))
    assert verify_tracking_token(opened, KEYS.get, "open") == TrackingToken("open", delivery)
    assert verify_tracking_token(clicked, KEYS.get, "click") == TrackingToken("click", delivery, 3)
    assert verify_tracking_token(opened, KEYS.get, "click") is None  # another kind
    assert verify_tracking_token(clicked, KEYS.get, "open") is None
    assert verify_tracking_token(opened, {2: NEW.secret}.get, "open") is None  # unknown key
    flipped = opened[:10] + ("A" if opened[10] != "A" else "B") + opened[11:]
    for text in (flipped, opened[:-1], opened + "A", "", "!!!", "A" * 500):
        assert verify_tracking_token(text, KEYS.get, "open") is None, text
    with pytest.raises(ValueError, match="position"):
        sign_tracking_token(OLD, TrackingToken("click", delivery))


def test_utm_parameters_join_what_a_link_has() -> None:
    assert with_utm("https://shop.example.com", "Thanks & more") == (
        "https://shop.example.com?utm_source=shoptrack&utm_medium=email"
        "&utm_campaign=Thanks%20%26%20more"
    )
    assert with_utm("https://s.example/p?id=1&utm_source=news#top", "F") == (
        "https://s.example/p?id=1&utm_source=news&utm_medium=email&utm_campaign=F#top"
    )


def test_every_link_but_unsubscribe_is_tracked_once_per_address() -> None:
    html = (
        "<html><body>\n"
        '<p><a href="https://shop.example.com/a?x=1&amp;y=2">A</a>\n'
        "<A HREF='https://shop.example.com/b'>B</A> <a href=https://shop.example.com/a?x=1&y=2>A"
        "</a>\n"
        '<a data-href="https://elsewhere.example" href="mailto:hi@example.com">mail</a>\n'
        f'<a href="{UNSUBSCRIBE}">Unsubscribe</a> <a href="#top">top</a></p>\n'
        "</body></html>"
    )
    text = f"See https://shop.example.com/b. Or https://shop.example.com/c, then {UNSUBSCRIBE}\n"
    tracked = track_links(
        html,
        text,
        unsubscribe_url=UNSUBSCRIBE,
        campaign=None,
        click_url=lambda position: f"https://t.example/c/{position}",
        open_url="https://t.example/o/token",
    )
    assert tracked.links == (
        "https://shop.example.com/a?x=1&y=2",
        "https://shop.example.com/b",
        "https://shop.example.com/c",
    )
    assert tracked.html.count('href="https://t.example/c/0"') == 2
    assert '<A HREF="https://t.example/c/1">' in tracked.html
    assert 'data-href="https://elsewhere.example" href="mailto:hi@example.com"' in tracked.html
    assert f'href="{UNSUBSCRIBE}"' in tracked.html
    assert 'href="#top"' in tracked.html
    assert tracked.text == (
        f"See https://t.example/c/1. Or https://t.example/c/2, then {UNSUBSCRIBE}\n"
    )
    pixel = tracked.html.index('<img src="https://t.example/o/token"')
    assert pixel < tracked.html.index("</body>")

    untracked = track_links(
        html, text, unsubscribe_url=UNSUBSCRIBE, campaign="F", click_url=None, open_url=None
    )
    assert untracked.links == ()
    assert "<img" not in untracked.html
    assert 'HREF="https://shop.example.com/b?utm_source=shoptrack&amp;utm_medium=email' in (
        untracked.html
    )


AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
DELIVERED = AT - timedelta(hours=1)
READER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36"


@pytest.mark.parametrize(
    ("agent", "address", "delivered", "flag"),
    [
        (READER, "203.0.113.9", DELIVERED, None),
        ("Mozilla/5.0", "203.0.113.9", DELIVERED, "privacy proxy"),
        (READER, "17.58.101.2", DELIVERED, "privacy proxy"),
        ("YahooMailProxy; https://help.yahoo.com", "198.51.100.1", DELIVERED, "privacy proxy"),
        (READER, "203.0.113.9", AT - timedelta(seconds=4), "opened as it was delivered"),
        (READER, None, None, None),
    ],
)
def test_machines_opens_are_told_apart(
    agent: str, address: str | None, delivered: datetime | None, flag: str | None
) -> None:
    assert open_flag(agent, address, AT, delivered) == flag


@pytest.mark.parametrize(
    ("agent", "delivered", "flag"),
    [
        (READER, DELIVERED, None),
        ("", DELIVERED, "no user agent"),
        ("Mozilla/5.0 (compatible; BingPreview/1.0b)", DELIVERED, "link scanner"),
        ("python-requests/2.32", DELIVERED, "link scanner"),
        (READER, AT - timedelta(milliseconds=400), "clicked as it was delivered"),
    ],
)
def test_machines_clicks_are_told_apart(
    agent: str, delivered: datetime | None, flag: str | None
) -> None:
    assert click_flag(agent, AT, delivered) == flag
