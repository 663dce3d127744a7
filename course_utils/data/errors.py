"""The error every refusal of the CIFAR-10 loader raises."""

from __future__ import annotations

from ..validation import CourseError


class CIFAR10DataError(RuntimeError, CourseError):
    """The CIFAR-10 files could not be found, read, or do not look like CIFAR-10."""
