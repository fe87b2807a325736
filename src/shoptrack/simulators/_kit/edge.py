"""Misbehaviour a store's hosting puts in front of its API, switched on by tests.

A firewall (Cloudflare's 1020 block page for a user agent), a rate limiter (429 with
``Retry-After``), failing servers (500, then a proxy's 502 and 503) and slow pages. None of it is
the platform's own code, so every simulator shares it: ``EdgeFaults`` holds what is switched on,
``behind_edge`` puts an endpoint behind it.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from shoptrack.simulators._kit.values import count

__all__ = ["EDGE_FAULTS", "EdgeFaults", "EdgeSite", "at_edge", "behind_edge"]

Endpoint = Callable[[Request], Awaitable[Response]]

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
    # Whether the platform's API answers the rate-limit burst itself (``take_burst``), in its
    # own words, rather than the edge (Shopify's REST and GraphQL APIs each say it their way).
    platform_rate_limit: bool = False
    _errors_served: int = 0
    _default_retry_after: int = field(init=False)

    def __post_init__(self) -> None:
        self._default_retry_after = self.retry_after_seconds

    def cleared(self) -> EdgeFaults:
        """A well-behaved edge, as this one was built."""
        return EdgeFaults(
            retry_after_seconds=self._default_retry_after,
            platform_rate_limit=self.platform_rate_limit,
        )

    def apply(self, faults: Mapping[str, Any]) -> None:
        """Takes the edge's part of a faults document, leaving what it does not name alone;
        ``ValueError`` names a bad value (checked before anything changes)."""
        burst, retry_after = self.rate_limit_burst, self.retry_after_seconds
        if "rate_limit" in faults:
            limit = faults["rate_limit"]
            if not isinstance(limit, Mapping):
                raise ValueError('rate_limit: expected {"burst": N, "retry_after": S}')
            burst = count(limit.get("burst"), "rate_limit.burst")
            retry_after = count(limit.get("retry_after", self._default_retry_after), "retry_after")
        errors = count(faults.get("server_error", self.server_errors), "server_error")
        slow = count(faults.get("slow_ms", self.slow_ms), "slow_ms")
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
        if self.rate_limit_burst > 0 and not self.platform_rate_limit:
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

    def take_burst(self) -> int | None:
        """For a platform that answers the rate limit itself: the seconds to wait when this
        request is one of the burst (it counts down), None when it is not."""
        if self.rate_limit_burst <= 0:
            return None
        self.rate_limit_burst -= 1
        return self.retry_after_seconds


class EdgeSite(Protocol):
    """A simulator as the edge sees it: its faults, and the lock they are changed under."""

    edge: EdgeFaults
    _lock: threading.RLock


async def at_edge(
    site: EdgeSite,
    request: Request,
    internal_error: Callable[[], Response],
    *,
    slow: bool = True,
) -> Response | None:
    """The edge's answer to ``request`` instead of the store's (a block page, a 429, a failing
    server, with ``internal_error`` the store's own 500), or None to let it through, once the
    slowness switched on has passed (unless ``slow`` is off: a route the slowness skips)."""
    with site._lock:
        answer = site.edge.answer(
            request.headers.get("user-agent", ""), request.url.netloc, internal_error
        )
        slow_ms = site.edge.slow_ms if slow else 0
    if answer is None and slow_ms:
        await asyncio.sleep(slow_ms / 1000)
    return answer


def behind_edge(
    site: EdgeSite,
    endpoint: Endpoint,
    internal_error: Callable[[], Response],
    *,
    slow: bool = True,
) -> Endpoint:
    """``endpoint`` behind the edge's faults (see ``at_edge``): the middleware every store's API
    routes share, while its ``/_sim/`` control routes stay clear of it."""

    async def guarded(request: Request) -> Response:
        answer = await at_edge(site, request, internal_error, slow=slow)
        return answer if answer is not None else await endpoint(request)

    return guarded


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
