"""The error of every image that cannot be loaded, and how its messages show sizes and text."""

from __future__ import annotations

from ..validation import CourseError


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class ImageLoadError(CourseError, ValueError):
    """The source could not be read as an image. The message says what was received and what to do.

    ``reason`` names the kind of failure (``"too_slow"``, ``"too_large"``, ``"too_many_pixels"``, ``"cut_off"``,
    ``"unreachable"``, ``"http_error"`` (``limit``: the status code), ``"bad_address"``, ``"bad_redirect"``,
    ``"heic"``, ``"not_image"``, ``"empty"``, ``"no_memory"``, ``"empty_upload"``, ``"no_file"``, ``"unreadable"``,
    ``"home"``; ``"other"`` for a call no app makes, such as a number passed as the source), ``subject`` what was
    being loaded as the message shows it, ``limit`` the limit it went over: the explain-an-image app words them for someone who writes no code
    (:func:`course_utils.widgets.plain_message`)."""

    def __init__(self, message: str, *, reason: str = "other", subject: str = "", limit: str = "") -> None:
        super().__init__(message)
        self.reason, self.subject, self.limit = reason, subject, limit
