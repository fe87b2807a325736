"""How people are recognised: emails trimmed and lower-cased, phones in E.164."""

from __future__ import annotations

import pytest

from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone

# --- email ------------------------------------------------------------------------------------


def test_padded_upper_case_email_is_the_same_person() -> None:
    assert normalize_email(" A@x.com") == normalize_email("a@x.com") == "a@x.com"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        ("\tada@example.com\n", "ada@example.com"),
        ("\u00a0ada@example.com ", "ada@example.com"),  # no-break space from a copy-paste
        ("ada+news@example.co.uk", "ada+news@example.co.uk"),
        ("O'Brien@Example.ie", "o'brien@example.ie"),
        ("first.last@sub.domain.example", "first.last@sub.domain.example"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normalised: str) -> None:
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_missing_email_is_none(raw: str | None) -> None:
    assert normalize_email(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada@exa@mple.com",
        "ada lovelace@example.com",
        "ada@exam ple.com",
        "ada@.com",
        "ada@example.",
        "mailto ada@example.com",
    ],
)
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="not an email address"):
        normalize_email(raw)


def test_invalid_identifier_error_is_a_value_error_quoting_the_input() -> None:
    assert issubclass(InvalidIdentifierError, ValueError)
    with pytest.raises(ValueError, match="'Nope'"):
        normalize_email("Nope")


def test_email_normalisation_is_idempotent() -> None:
    once = normalize_email("  Grace.Hopper@Navy.MIL ")
    assert once is not None
    assert normalize_email(once) == once


# --- phone ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+15551234567", "+15551234567"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("+1.555.123.4567", "+15551234567"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("  +49 30/123456  ", "+4930123456"),
        ("0044 20 7946 0958", "+442079460958"),  # international prefix 00
        ("+8613800138000", "+8613800138000"),
        ("+12345678", "+12345678"),  # 8 digits: the shortest accepted
        ("+123456789012345", "+123456789012345"),  # 15 digits: E.164's longest
    ],
)
def test_phones_become_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", [None, "", "   ", " - ", "()"])
def test_missing_phone_is_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "5551234567",  # no country code: the country cannot be known
        "(555) 123-4567",
        "+0123456789",  # country codes never start with 0
        "+1234567",  # too short
        "+1234567890123456",  # 16 digits: longer than E.164 allows
        "+1 555 CALL NOW",
        "+1555123456x7",
        "++15551234567",
        "+1+5551234567",
        "phone",
    ],
)
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError, match=r"E\.164"):
        normalize_phone(raw)


def test_phone_normalisation_is_idempotent() -> None:
    once = normalize_phone("+44 20 7946 0958")
    assert once == "+442079460958"
    assert normalize_phone(once) == once


def test_non_ascii_digits_are_not_e164() -> None:
    # Python's \d matches any Unicode digit; E.164 digits are ASCII. Refusing or converting
    # to ASCII are both fine; storing the foreign digits is not.
    raw = "+1\u0665\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667"  # +1 ٥٥٥١٢٣٤٥٦٧
    try:
        phone = normalize_phone(raw)
    except InvalidIdentifierError:
        return
    assert phone is not None
    assert phone.isascii(), phone


@pytest.mark.parametrize(
    "raw", ["+44 (0)20 7946 0958", "+44(0)2079460958", "+44 20 7946 0958", "0044 (0) 20 7946 0958"]
)
def test_trunk_prefix_in_brackets_is_dropped(raw: str) -> None:
    # "+44 (0)20 …" is how UK, German and Dutch numbers are often written; the (0) is dialled
    # only from inside the country and is not part of the E.164 number.
    assert normalize_phone(raw) == "+442079460958"


def test_a_zero_that_is_part_of_the_number_is_kept() -> None:
    assert normalize_phone("+39 06 1234 5678") == "+390612345678"  # Italy keeps its 0
