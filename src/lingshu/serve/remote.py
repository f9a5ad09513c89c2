"""Fetching remote images (``--allow-remote-images``) without letting a remote server
hold the API hostage.

A client names the URL, so the remote server is untrusted in two ways:

- **where it is**: the host is resolved once and every address must be public (not
  loopback, private, link-local, cloud metadata, shared, reserved or multicast); the
  connection then goes to that checked address, so a second DNS answer cannot swap in an
  internal one (DNS rebinding). Redirects are followed by hand and each hop is checked the
  same way; a redirect to anything but http(s) (``data:``, ``file:``) is refused.
  Credentials in a URL (``user:pass@``) are never sent, and every failure to fetch gives
  the same message, so the server cannot be used to tell open ports from closed ones;
- **how it answers**: a server sending one byte every two seconds never trips a per-read
  timeout, so each fetch has a *total* deadline (DNS, connection, redirects and body
  together), a size cap enforced while the body streams in (a declared Content-Length
  over it is refused before reading), and fetches run on the event loop under their own
  small bound (``ImagePolicy.max_remote_fetches``): when every slot is taken a request is
  refused at once with 429 rather than queued, and no fetch ever holds one of the threads
  that plain requests need (45 slow fetches used to block the whole API).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING

from lingshu.serve.errors import ApiError, bad_request

if TYPE_CHECKING:
    import httpx

    from lingshu.serve.images import ImagePolicy

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to simulate DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_allowed(address: str, trusted: tuple[str, ...] = ()) -> bool:
    """Whether the server may connect to ``address``: globally routable only, so never
    loopback, RFC 1918 / unique-local, link-local (169.254.169.254, the cloud metadata
    service, is one), shared (100.64/10), reserved, unspecified or multicast; an
    IPv4-mapped IPv6 address is judged by its IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(net, strict=False) for net in trusted):
        return True
    return ip.is_global and not ip.is_multicast


def unreachable(param: str) -> ApiError:
    """One message for closed ports, refused connections, timeouts and HTTP errors."""
    return bad_request(
        "could not fetch the image URL: no image could be retrieved from that address",
        param=param,
        code="image_fetch_failed",
    )


def _refused(why: str, param: str) -> ApiError:
    return bad_request(f"could not fetch the image URL: {why}", param=param, code="image_fetch_failed")


def _too_big(policy: ImagePolicy, param: str) -> ApiError:
    return ApiError(
        413,
        f"the remote image exceeds {policy.max_bytes:,} bytes",
        param=param,
        code="image_too_large",
    )


class RemoteFetcher:
    """Remote image fetches of one server: at most ``policy.max_remote_fetches`` at once,
    each finished (or abandoned) within ``policy.remote_timeout_s``. Used from the event
    loop only, so the slot count needs no lock."""

    def __init__(self, policy: ImagePolicy) -> None:
        self.policy = policy
        self.in_flight = 0

    async def fetch_all(self, items: list[tuple[str, str]]) -> dict[str, bytes]:
        """The body at each ``(url, param)`` (redirects followed), one after another under
        one total deadline: a request's remote images share it. Raises :class:`ApiError`."""
        out: dict[str, bytes] = {}
        param = items[0][1] if items else None
        try:
            async with asyncio.timeout(self.policy.remote_timeout_s):
                for url, param in items:
                    out[url] = await self._fetch_one(url.strip(), param)
        except TimeoutError:
            log.info("remote image fetch abandoned at its %.1f s deadline", self.policy.remote_timeout_s)
            raise unreachable(param or "image_url") from None
        return out

    async def _fetch_one(self, url: str, param: str) -> bytes:
        if self.in_flight >= self.policy.max_remote_fetches:
            raise ApiError(
                429,
                "the server is busy fetching remote images for other requests; retry shortly "
                "or send the image inline as a data URI",
                type="rate_limit_error",
                param=param,
                code="server_busy",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1
        try:
            return await _fetch(url, self.policy, param)
        finally:
            self.in_flight -= 1


def fetch_blocking(url: str, policy: ImagePolicy, param: str) -> bytes:
    """:meth:`RemoteFetcher.fetch` for callers outside an event loop (scripts, tests)."""
    return asyncio.run(RemoteFetcher(policy).fetch_all([(url, param)]))[url]


async def _fetch(url: str, policy: ImagePolicy, param: str) -> bytes:
    import httpx

    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        raise _refused("the URL is malformed", param) from None
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(
        timeout=policy.remote_timeout_s, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            if target.scheme not in ("http", "https") or not target.host:
                raise _refused("only http(s) URLs with a host name are fetched", param)
            port = target.port or (443 if target.scheme == "https" else 80)
            try:
                addresses = await loop.run_in_executor(None, _resolve, target.host, port)
            except (OSError, UnicodeError):
                raise unreachable(param) from None
            if not addresses or not all(
                address_allowed(a, policy.trusted_networks) for a in addresses
            ):
                raise _refused(
                    "the host resolves to a loopback, private, link-local or otherwise "
                    "non-public address, which this server does not fetch from",
                    param,
                )
            clean = target.copy_with(userinfo=b"")  # credentials in a URL are never sent
            request = client.build_request(
                "GET",
                clean.copy_with(host=addresses[0]),
                headers={"Host": clean.netloc.decode("ascii")},
                extensions={"sni_hostname": target.host},
            )
            try:
                resp = await client.send(request, stream=True)
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                # InvalidURL: httpx prepares the next hop of a redirect even when it does not
                # follow it, and a Location such as data:... cannot be prepared.
                log.info("remote image fetch failed: %s", type(e).__name__)
                raise unreachable(param) from None
            try:
                if resp.is_redirect and "location" in resp.headers:
                    try:
                        target = clean.join(resp.headers["location"])
                    except httpx.InvalidURL:
                        raise unreachable(param) from None
                    continue
                if resp.status_code != 200:
                    raise unreachable(param)
                return await _read_bounded(resp, policy, param)
            finally:
                await resp.aclose()
        raise unreachable(param)  # too many redirects


async def _read_bounded(resp: httpx.Response, policy: ImagePolicy, param: str) -> bytes:
    """The body, refused (413) as soon as it passes ``policy.max_bytes``: a declared length
    before any byte is read, an undeclared one while it streams."""
    import httpx

    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise _too_big(policy, param)
    chunks, size = [], 0
    try:
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > policy.max_bytes:
                raise _too_big(policy, param)
            chunks.append(chunk)
    except httpx.HTTPError:
        raise unreachable(param) from None
    return b"".join(chunks)
