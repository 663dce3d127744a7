"""How much :func:`~course_utils.images.load_image` reads, and for how long."""

from __future__ import annotations

MAX_BYTES = 10 * 2**20  # 10 MiB: far more than any photo needs at 32 x 32
MAX_PIXELS = 50_000_000  # 50 megapixels: above any phone photo; 150 MB as RGB, ~360 MB at the peak of loading
MAX_REDIRECTS = 5
TIMEOUT_S = 10.0  # for the whole download, not for each read
MAX_TIMEOUT_S = 86_400.0  # the largest timeout accepted: one day
