"""Reading CIFAR-10's pickles without running anything: :class:`RestrictedUnpickler`."""

from __future__ import annotations

import io
import math
import pickle
from typing import Any

import numpy as np

from . import constants
from .errors import CIFAR10DataError


class UnsafePickleError(CIFAR10DataError, pickle.UnpicklingError):
    """A pickle asked for something other than the dicts, lists and arrays CIFAR-10 is made of."""


# What a numpy array in a pickle may hold: booleans, integers, floats, complex numbers. Object arrays
# (kind "O") hold raw pointers, so rebuilding one from a file's bytes lets the file point anywhere.
_NUMERIC_KINDS = "biufc"


class _NdarrayName:
    """What ``numpy.ndarray`` in a pickle stands for: a name that ``_reconstruct`` expects as its first
    argument. It is not the class, so the pickle cannot call ``ndarray(shape, dtype, buffer)`` with a
    dtype and bytes of its choosing."""

    def __init__(self, unpickler: RestrictedUnpickler) -> None:
        self._unpickler = unpickler

    def __call__(self, *args, **kwargs):
        raise self._unpickler._refuse(
            "the pickle calls numpy.ndarray directly, a way to build an array "
            "from raw bytes that a CIFAR-10 batch never uses"
        )


class _DtypeSpec:
    """A numeric dtype the pickle asked for; numpy's dtype state (``BUILD``) may only set the byte order."""

    __slots__ = ("_unpickler", "dtype")

    def __init__(self, dtype: np.dtype, unpickler: RestrictedUnpickler) -> None:
        self.dtype, self._unpickler = dtype, unpickler

    def __setstate__(self, state) -> None:
        # numpy writes (3, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
        if (
            not isinstance(state, tuple)
            or len(state) not in (8, 9)
            or state[0] not in (3, 4)
            or any(v is not None for v in (*state[2:5], *state[8:]))
            or tuple(state[5:8]) != (-1, -1, 0)
        ):
            raise self._unpickler._refuse(f"the dtype state {str(state)[:80]} is not that of a plain numeric dtype")
        order = state[1].decode("ascii", "replace") if isinstance(state[1], bytes) else state[1]
        if order not in ("<", ">", "|", "="):
            raise self._unpickler._refuse(f"the byte order {order!r} is not one numpy writes")
        if order in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder("<" if order == "<" else ">")


class _ArraySpec:
    """Stands for an array while the pickle is read; :meth:`RestrictedUnpickler.load` swaps in ``array``.

    The array is built by :func:`numpy.frombuffer` from bytes of a numeric dtype, never by numpy's own
    ``__setstate__``, so no array of references can come out of a file.
    """

    __slots__ = ("_unpickler", "array")

    def __init__(self, unpickler: RestrictedUnpickler, array: np.ndarray | None = None) -> None:
        self.array, self._unpickler = array, unpickler

    def __setstate__(self, state) -> None:
        # numpy writes (1, shape, dtype, is_fortran, raw bytes) for an array of plain values.
        if self.array is not None:
            raise self._unpickler._refuse("the pickle sets the state of an array twice")
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise self._unpickler._refuse(
                f"the array state {str(state)[:80]} is not numpy's (1, shape, dtype, is_fortran, bytes)"
            )
        _, shape, dtype, fortran, raw = state
        self.array = self._unpickler._array(raw, dtype, shape, "F" if fortran else "C")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild CIFAR-10 batches and nothing else.

    It rebuilds dicts, lists, bytes, str, ints and arrays of numbers (bool, int, float, complex). Plain
    containers need no global lookup; arrays need four names (numpy's ``_reconstruct``, ``_frombuffer``,
    ``ndarray`` and ``dtype``), each answered by a stand-in that checks its arguments. Any other global
    (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) raises :class:`UnsafePickleError` before it
    is even imported, so nothing in the file runs. A dtype that is not numeric (``object``, structured,
    strings) is refused when the pickle names it, before any array exists; an array is built with
    :func:`numpy.frombuffer` from bytes whose length matches its shape.
    """

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>", copy: bool = True) -> None:
        super().__init__(file, encoding="bytes")
        self.source = source
        # copy=False: arrays are read-only views of the file's bytes (no second copy); the loader copies
        # them into its own arrays anyway.
        self.copy = copy
        self._ndarray: _NdarrayName | None = _NdarrayName(self)
        # numpy 2 renamed numpy.core to numpy._core; files written by numpy 1 name the old modules.
        self._allowed = {
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy.core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy._core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy", "ndarray"): self._ndarray,
            ("numpy", "dtype"): self._dtype,
        }

    def _refuse(self, why: str) -> UnsafePickleError:
        return UnsafePickleError(
            f"Refused to load {self.source}: {why}. A CIFAR-10 batch holds only dicts, lists, bytes, str, "
            "ints and arrays of numbers. Nothing from the file was run and no array was built from it. The "
            f"file is not the official CIFAR-10; download it again from {constants.CIFAR10_URL}."
        )

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refused to load {self.source}: the pickle asks for {module}.{name}, which a CIFAR-10 "
                "batch never needs (it holds only dicts, lists and numpy arrays). Nothing from the file "
                "was run. The file is not the official CIFAR-10; download it again from "
                f"{constants.CIFAR10_URL}."
            ) from None

    # ---- the stand-ins for numpy's names
    def _dtype(self, code, align=False, copy=False) -> _DtypeSpec:
        if not isinstance(code, (str, bytes)) or len(code) > 8 or align not in (0, 1) or copy not in (0, 1):
            raise self._refuse(f"numpy.dtype is called with {str((code, align, copy))[:80]}, not a type code")
        text = code.decode("ascii", "replace") if isinstance(code, bytes) else code
        try:
            dtype = np.dtype(text)
        except (TypeError, ValueError):
            raise self._refuse(f"numpy.dtype({text!r}) is not a numpy type") from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype:
            raise self._refuse(
                f"the dtype {text!r} ({dtype.kind!r} kind) is not a number type; an array of "
                "that type could hold references to memory"
            )
        return _DtypeSpec(dtype, self)

    def _reconstruct(self, cls, shape, typecode) -> _ArraySpec:
        if cls is not self._ndarray or not isinstance(typecode, (str, bytes)) or len(typecode) > 1:
            raise self._refuse(
                f"numpy's _reconstruct is called with {str((cls, shape, typecode))[:80]}, "
                "not (numpy.ndarray, shape, type code)"
            )
        return _ArraySpec(self)

    def _frombuffer(self, buffer, dtype, shape, order) -> _ArraySpec:
        return _ArraySpec(self, self._array(buffer, dtype, shape, order))

    def _array(self, raw, dtype, shape, order) -> np.ndarray:
        if not isinstance(dtype, _DtypeSpec):
            raise self._refuse(f"an array's dtype is a {type(dtype).__name__}, not a numeric dtype")
        if isinstance(raw, (list, tuple)):
            raise self._refuse("an array's values are a list of objects, as numpy writes only for object arrays")
        if not isinstance(raw, (bytes, bytearray)):
            raise self._refuse(f"an array's values are a {type(raw).__name__}, not bytes")
        if (
            not isinstance(shape, tuple)
            or len(shape) > 8
            or order not in ("C", "F")
            or not all(type(n) is int and n >= 0 for n in shape)
        ):
            raise self._refuse(f"an array's shape {str(shape)[:80]} (order {str(order)[:8]}) is not a tuple of sizes")
        count = math.prod(shape)  # Python ints: a crafted shape cannot overflow to a small size
        if count * dtype.dtype.itemsize != len(raw):
            raise CIFAR10DataError(
                f"{self.source} is corrupt: an array of shape {shape} and dtype {dtype.dtype} needs "
                f"{count * dtype.dtype.itemsize} bytes, the file gives {len(raw)}. Download CIFAR-10 again "
                f"({constants.CIFAR10_URL})."
            )
        array = np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order=order)
        return array.copy(order="K") if self.copy else array

    def load(self) -> Any:
        """Read the pickle; return its dicts, lists, bytes, str, ints and numeric arrays."""
        try:
            return self._materialise(super().load())
        finally:
            # The memo holds the array stand-ins, which hold this unpickler, and the unpickler holds its own
            # bound methods: reference cycles that only the garbage collector would free, keeping each file's
            # bytes (30-60 MB) alive while the next files are read. Break them here.
            self.memo.clear()
            self._allowed, self._ndarray = {}, None

    def _materialise(self, obj: Any) -> Any:
        """Swap each array stand-in for its array, and refuse anything that is not a CIFAR-10 value."""

        def settle(value):
            if isinstance(value, _ArraySpec):
                if value.array is None:
                    raise self._refuse("an array was named but never given its values")
                return value.array
            if type(value) in (dict, list):
                if id(value) not in seen:
                    seen.add(id(value))
                    todo.append(value)
                return value
            if type(value) in (bytes, str, int, bool) or value is None:
                return value
            raise self._refuse(f"the pickle builds a {type(value).__name__}")

        seen: set[int] = set()
        todo: list = []
        root = settle(obj)
        while todo:  # a loop, not recursion: a deeply nested file cannot exhaust the stack
            container = todo.pop()
            if type(container) is dict:
                items = [(settle(k), settle(v)) for k, v in container.items()]
                if any(isinstance(k, np.ndarray) for k, _ in items):
                    raise self._refuse("a dict key is an array")
                container.clear()
                container.update(items)
            else:
                container[:] = [settle(v) for v in container]
        return root


def _unpickle(data: bytes, source: str, copy: bool = True) -> dict:
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), source=source, copy=copy).load()
    except CIFAR10DataError:  # UnsafePickleError, or an array whose size does not match its bytes
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt bytes: EOFError, UnpicklingError, ValueError ...
        raise CIFAR10DataError(
            f"{source} is corrupt or truncated and could not be read as a pickle "
            f"({type(exc).__name__}: {str(exc)[:200]}). Delete it and download CIFAR-10 again ({constants.CIFAR10_URL})."
        ) from None
    if not isinstance(obj, dict):
        raise CIFAR10DataError(
            f"{source} holds a {type(obj).__name__}, expected a dict with keys b'labels' and b'data'."
        )
    return obj
