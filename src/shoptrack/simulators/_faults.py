"""Misbehaviour a store's hosting puts in front of its API, switched on by tests.

A firewall (Cloudflare's 1020 block page for a user agent), a rate limiter (429 with
``Retry-After``), failing servers (500, then a proxy's 502 and 503) and slow pages. None of it is
the platform's own code, so every simulator can share it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import HTMLResponse, Response

__all__ = ["EDGE_FAULTS", "EdgeFaults"]

_PROXY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
}


# The keys of a faults document (``POST /_sim/faults``) that the edge takes.
EDGE_FAULTS = frozenset({"rate_limit", "server_error", "slow_ms", "firewall_user_agent"})


@dataclass(slots=True)
class EdgeFaults:
    """What the edge does to the next requests; counters go down as requests meet them."""

    rate_limit_burst: int = 0  # the next N requests get 429
    retry_after_seconds: int = 1
    server_errors: int = 0  # the next N requests get 500, 502, 503, 500...
    slow_ms: int = 0  # every request waits this long first
    firewall_user_agent: str | None = None  # a 403 block page when the User-Agent contains it
    _errors_served: int = 0

    def apply(self, faults: Mapping[str, Any]) -> None:
        """Takes the edge's part of a faults document, leaving what it does not name alone;
        ``ValueError`` names a bad value (checked before anything changes)."""
        burst, retry_after = self.rate_limit_burst, self.retry_after_seconds
        if "rate_limit" in faults:
            limit = faults["rate_limit"]
            if not isinstance(limit, Mapping):
                raise ValueError('rate_limit: expected {"burst": N, "retry_after": S}')
            burst = _count(limit.get("burst"), "rate_limit.burst")
            retry_after = _count(limit.get("retry_after", 1), "retry_after")
        errors = _count(faults.get("server_error", self.server_errors), "server_error")
        slow = _count(faults.get("slow_ms", self.slow_ms), "slow_ms")
        self.rate_limit_burst, self.retry_after_seconds = burst, retry_after
        self.server_errors, self.slow_ms = errors, slow
        if "firewall_user_agent" in faults:
            self.firewall_user_agent = str(faults["firewall_user_agent"] or "") or None

    def describe(self) -> dict[str, Any]:
        """The edge's part of the faults in force, as ``GET /_sim/faults`` shows them."""
        return {
            "rate_limit": {"burst": self.rate_limit_burst, "retry_after": self.retry_after_seconds},
            "server_error": self.server_errors,
            "slow_ms": self.slow_ms,
            "firewall_user_agent": self.firewall_user_agent,
        }

    def answer(
        self, user_agent: str, host: str, internal_error: Callable[[], Response]
    ) -> Response | None:
        """The response the edge gives instead of the application's, if any (in the order a
        request meets them: firewall, rate limiter, failing server)."""
        blocked = self.firewall_user_agent
        if blocked and blocked.lower() in user_agent.lower():
            return _cloudflare_block(host, user_agent)
        if self.rate_limit_burst > 0:
            self.rate_limit_burst -= 1
            return Response(
                "Too Many Requests",
                429,
                {"retry-after": str(self.retry_after_seconds)},
                media_type="text/plain",
            )
        if self.server_errors > 0:
            self.server_errors -= 1
            status = (500, 502, 503)[self._errors_served % 3]
            self._errors_served += 1
            if status == 500:
                return internal_error()
            title = _PROXY_PAGES[status]
            page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            page += f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            return HTMLResponse(page + "</body>\r\n</html>\r\n", status, {"server": "nginx"})
        return None


def _cloudflare_block(host: str, user_agent: str) -> Response:
    """Cloudflare's firewall-rule block (error 1020), served at its edge with a Ray ID."""
    ray = hashlib.sha256(f"{host}{user_agent}".encode()).hexdigest()[:16]
    page = f"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />
</head>
<body>
  <div id="cf-wrapper">
    <div id="cf-error-details" class="cf-error-details-wrapper">
      <div class="cf-wrapper cf-header cf-error-overview">
        <h1><span class="cf-error-type" data-translate="error">Error</span>
        <span class="cf-error-code">1020</span></h1>
        <h2 class="cf-subheadline" data-translate="error_desc">Access denied</h2>
      </div>
      <section></section>
      <div class="cf-section cf-wrapper">
        <div class="cf-columns two">
          <div class="cf-column">
            <h2 data-translate="what_happened">What happened?</h2>
            <p>This website is using a security service to protect itself from online attacks.
            The site owner may have set restrictions that prevent you from accessing
            {host}.</p>
          </div>
        </div>
      </div>
      <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto">
        <p class="text-13">
          <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID:
          <strong class="font-semibold">{ray}</strong></span>
          <span class="cf-footer-separator sm:hidden">&bull;</span>
          <span class="cf-footer-item sm:block sm:mb-1">Performance &amp; security by
          <a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing"
          target="_blank">Cloudflare</a></span>
        </p>
      </div>
    </div>
  </div>
</body>
</html>
"""
    headers = {"server": "cloudflare", "cf-ray": f"{ray}-FRA", "cache-control": "no-cache"}
    return HTMLResponse(page, 403, headers)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return value
