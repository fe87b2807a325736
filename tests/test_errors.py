"""Every error code shoptrack answers with is documented in README.md, and nothing more."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import shoptrack
from shoptrack.errors import ShoptrackError

README = Path(__file__).parent.parent / "README.md"

# Codes given to an error instance rather than its class (``code=`` at the raise).
INSTANCE_CODES = {
    "webhook_signature_rejected",
    "webhook_clock_skew",
    "worker_needs_postgresql",
    "invalid_inbox_share",
    "port_in_use",
    "scope_missing",
    "firewall_blocked",
    "store_not_found",
    "sync_lease_lost",
}


def _class_codes() -> set[str]:
    """The codes of every error class in the package, all its modules imported."""
    for module in pkgutil.walk_packages(shoptrack.__path__, "shoptrack."):
        if module.name != "shoptrack.__main__" and ".migrations." not in module.name:
            importlib.import_module(module.name)
    classes: list[type[ShoptrackError]] = [ShoptrackError]
    codes: set[str] = set()
    while classes:
        cls = classes.pop()
        codes.add(cls.code)
        classes.extend(cls.__subclasses__())
    return codes - {ShoptrackError.code}


def _documented_codes() -> set[str]:
    text = README.read_text()
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_error_codes_and_docs_agree() -> None:
    assert _documented_codes() == _class_codes() | INSTANCE_CODES


def test_instance_codes_are_raised_somewhere() -> None:
    source = "".join(p.read_text() for p in Path(shoptrack.__file__).parent.rglob("*.py"))
    for code in INSTANCE_CODES:
        assert f'"{code}"' in source, code
