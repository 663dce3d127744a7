"""Downloading an image: one deadline for the whole download, a size limit, redirects only to http(s), an
address percent-encoded, credentials sent as Basic auth and never shown."""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Self

from .errors import ImageLoadError, _short, _size
from .limits import MAX_REDIRECTS


def _version() -> str:
    from .. import __version__

    return __version__


class _Deadline:
    """One deadline for a whole download. When it passes, every socket opened for the download is shut
    down, so a read that is waiting (for a server that sends a byte now and then) returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def passed(self) -> bool:
        return self.expired or self.remaining() <= 0

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:  # the plain socket's shutdown, also under TLS: it ends a read that another thread waits in
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


def _resolve(host: str, port: int, deadline: _Deadline) -> list:
    """``socket.getaddrinfo`` within the download's deadline. The lookup itself has no timeout (a name server
    that never answers holds it for as long as the system's resolver waits), so it runs in a daemon thread and
    is waited for only until the deadline; a lookup still running then is left to end on its own."""
    found: dict[str, object] = {}

    def lookup() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(max(deadline.remaining(), 0.0))
    if thread.is_alive():
        raise TimeoutError(f"looking up {host} took longer than the download's time limit")
    if "error" in found:
        raise found["error"]  # type: ignore[misc]
    return found["addresses"]  # type: ignore[return-value]


def _connect_within(deadline: _Deadline):
    """A replacement for ``socket.create_connection`` (http.client's ``_create_connection``) whose name lookup
    counts against the deadline too; the connection itself is as ``create_connection`` makes it."""

    def create_connection(address, timeout=None, source_address=None, *args, **kwargs) -> socket.socket:
        host, port = address[0], address[1]
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in _resolve(host, port, deadline):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"no address found for {host}")

    return create_connection


def _connection_class(base: type, deadline: _Deadline) -> type:
    class Connection(base):
        def connect(self) -> None:
            # self.timeout: http.client's connection class is the base, which mypy cannot see here
            per_step = self.timeout if isinstance(self.timeout, (int, float)) else deadline.seconds  # type: ignore[has-type]
            self.timeout = max(0.01, min(per_step, deadline.remaining()))
            self._create_connection = _connect_within(deadline)  # the name lookup within the deadline too
            super().connect()
            deadline.watch(self.sock)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._connection = _connection_class(http.client.HTTPConnection, deadline)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._connection = _connection_class(http.client.HTTPSConnection, deadline)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows at most ``limit`` redirects, and only to http(s) addresses."""

    def __init__(self, url: str, limit: int) -> None:
        super().__init__()
        self.url, self.limit, self.count = url, limit, 0
        self.max_repeats = self.max_redirections = limit + 1  # type: ignore[misc]  # our count speaks first

    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                target = urllib.parse.urljoin(req.full_url, location.strip())
                scheme = urllib.parse.urlsplit(target).scheme.lower()
            except ValueError:
                target, scheme = location, "?"
            target = _hide_credentials(target)
            self.count += 1
            if scheme not in ("http", "https"):
                fp.close()
                raise ImageLoadError(
                    f"{_short(self.url)} redirects to {_short(target)!r}, a {scheme}: address. Only redirects to "
                    "http(s) are followed. Open the address in a browser and copy the image's own address.",
                    reason="bad_redirect",
                    subject=_short(self.url),
                )
            if self.count > self.limit:
                fp.close()
                raise ImageLoadError(
                    f"{_short(self.url)} redirects more than {self.limit} times (the last to {_short(target)}). "
                    "Expected an image within a few redirects. Open it in a browser and copy the final address.",
                    reason="bad_redirect",
                    subject=_short(self.url),
                )
        fp.close()  # urllib would read the redirect's whole body (fp.read()), with no limit: never read it
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(url: str, deadline: _Deadline) -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()  # no ftp:, file: or data: handlers
    for handler in (
        urllib.request.ProxyHandler(),
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(url, MAX_REDIRECTS),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[/\\]*")  # 'http:/' and 'http:\\' too, as browsers read them


def _userinfo(url: str) -> str | None:
    """The ``user:password`` before the host in ``url``, or None. Also a malformed one that holds a '/', '?' or
    '#' ('http://me:pa/ss@host/x'), as long as what follows its ':' is not a port ('http://host:80/@me/x')."""
    match = _SCHEME.match(url)
    if not match:
        return None
    rest = url[match.end() :]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in netloc:
        return netloc.rpartition("@")[0]
    before, at, _ = rest.rpartition("@")
    _, colon, secret = before.partition(":")
    return before if at and colon and not re.match(r"\d*(?:[/?#]|$)", secret) else None


def _hide_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` before the host replaced by ``***@``: what a message may show."""
    userinfo = _userinfo(url)
    if userinfo is None:
        return url
    match = _SCHEME.match(url)
    assert match is not None  # _userinfo found the scheme
    start = match.end()
    return url[:start] + "***@" + url[start + len(userinfo) + 1 :]


def _bad_address(where: str, why: str) -> ImageLoadError:
    return ImageLoadError(
        f"{where!r} is not a valid web address ({why}). Expected http(s)://host/path; copy the "
        "address again (right-click the image, 'Copy image address').",
        reason="bad_address",
        subject=where,
    )


def _quote(part: str, safe: str) -> str:
    """Percent-encode what may not stand in an address (spaces, non-ASCII letters), keeping the escapes there."""
    part = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", part)  # a lone '%' (as in '100%.png') is a character
    return urllib.parse.quote(part, safe=safe + "%")


def _web_address(url: str) -> tuple[str, str, tuple[str, str] | None]:
    """``(address to request, address to show, (user, password) or None)`` for an http(s) ``url``.

    The path and query are percent-encoded (a space becomes %20, 'é' %C3%A9), a non-ASCII host name is
    IDNA-encoded, the fragment is dropped, and the credentials are taken out of the address: they are sent in
    an ``Authorization`` header to that host only (never on a redirect) and never shown.
    """
    shown = _hide_credentials(url)
    where = _short(shown)
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port  # .port raises ValueError for 'host:abc'
    except ValueError as exc:  # the port's text is not quoted: it may be a password
        why = "its port is not a number from 0 to 65535" if "port" in str(exc).lower() else str(exc)
        raise _bad_address(where, why) from None
    if not host:
        raise _bad_address(where, "it has no host name")
    netloc = parts.netloc.rpartition("@")[2]
    if not netloc.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _bad_address(where, f"the host name {_short(host, 80)!r} cannot be written in ASCII") from None
        netloc = ascii_host + (f":{port}" if port is not None else "")
    bare = netloc.rpartition(":")[0] if port is not None or netloc.endswith(":") else netloc
    if not (bare.startswith("[") or re.fullmatch(r"[A-Za-z0-9._-]+", bare)):
        raise _bad_address(where, f"the host name {_short(bare, 80)!r} may hold only letters, digits, '-' and '.'")
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = (urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""))
    path = _quote(parts.path, "/:@!$&'()*+,;=~") or "/"
    query = _quote(parts.query, "/?:@!$&'()*+,;=~")
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, "")), shown, auth


def _scrub(text: str, password: str) -> str:
    """``text`` with ``password`` (3 characters or more) replaced by ``***``, in case an exception quoted it."""
    if len(password) >= 3:
        for secret in {password, urllib.parse.unquote(password), urllib.parse.quote(password, safe="")}:
            text = text.replace(secret, "***")
    return text


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    password = (_userinfo(url) or "").partition(":")[2]
    try:
        address, shown, auth = _web_address(url)
        return _fetch(address, shown, auth, timeout, max_bytes)
    except ImageLoadError as exc:
        raise ImageLoadError(
            _scrub(str(exc), password),
            reason=exc.reason,
            subject=_scrub(exc.subject, password),
            limit=exc.limit,
        ) from None


# long: each way a download can fail (slow, too large, an HTTP error, a bad redirect) says so itself
def _fetch(url: str, shown: str, auth: tuple[str, str] | None, timeout: float, max_bytes: int) -> bytes:
    """The body of ``url`` (already encoded); ``shown``: the address as messages show it (no credentials)."""
    where = _short(shown)
    too_slow = (
        f"{where} did not answer in full within {timeout:g} s (one limit for the whole download). Try again, "
        "pass a larger timeout=..., or download the image and pass its file path."
    )
    slow = {"reason": "too_slow", "subject": where, "limit": f"{timeout:g} s"}
    try:
        request = urllib.request.Request(
            url, headers={"User-Agent": f"course_utils/{_version()} (explainability course)"}
        )
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for http://[::1/x.png
        raise _bad_address(where, str(exc)) from None
    if auth is not None:  # to this host only: an unredirected header is not sent on to a redirect
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    chunks: list[bytes] = []
    received = 0
    with _Deadline(timeout) as deadline:
        try:
            with _opener(shown, deadline).open(request, timeout=max(deadline.remaining(), 0.01)) as response:
                declared = (response.headers.get("Content-Length") or "").strip()
                # A malformed length (not digits) is ignored: the body is still read up to max_bytes.
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ImageLoadError(
                        f"{where} is {_size(int(declared))}; the limit is {_size(max_bytes)}. "
                        "Use a smaller image or raise max_bytes.",
                        reason="too_large",
                        subject=where,
                        limit=_size(max_bytes),
                    )
                while True:
                    chunk = response.read1(65536)  # one read at a time: the deadline is seen in between
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > max_bytes:
                        raise ImageLoadError(
                            f"{where} sent more than {_size(max_bytes)}, the limit. "
                            "Use a smaller image or raise max_bytes.",
                            reason="too_large",
                            subject=where,
                            limit=_size(max_bytes),
                        )
                    chunks.append(chunk)
                left = getattr(response, "length", None)
                if deadline.passed():
                    raise ImageLoadError(too_slow, **slow)
                if left:
                    raise ImageLoadError(
                        f"{where} stopped after {_size(received)}; it announced "
                        f"{_size(received + left)}. Try again, or download the image and "
                        "pass its file path.",
                        reason="cut_off",
                        subject=where,
                    )
        except ImageLoadError:
            raise
        except urllib.error.HTTPError as exc:
            raise ImageLoadError(
                f"{where} answered HTTP {exc.code} ({_short(str(exc.reason), 100)}). Check the address in a browser.",
                reason="http_error",
                subject=where,
                limit=str(exc.code),
            ) from None
        except Exception as exc:  # noqa: BLE001 - sockets, TLS, http.client, urllib: anything, as an ImageLoadError
            if deadline.passed() or isinstance(exc, TimeoutError):
                raise ImageLoadError(too_slow, **slow) from None
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else f"{type(exc).__name__}: {exc}"
            raise ImageLoadError(
                f"Could not reach {where} ({_short(str(reason), 150)}). Check the address "
                "and your internet connection, or download the image and pass its file "
                "path.",
                reason="unreachable",
                subject=where,
            ) from None
    return b"".join(chunks)
