"""The course on a shared JupyterHub server: the settings and the first-login copy that
``deploy/jupyterhub/jupyterhub_config.py`` uses (JupyterHub itself is the ``hub`` extra; this module needs it not).

- :func:`settings_from_env` reads the hub command's settings (``XAI_HUB_*`` and ``CIFAR10_PATH``) and refuses
  what would not work or would not be safe, with a :class:`HubConfigError` that says what to do.
- :func:`copy_notebooks` copies the course's notebooks into a learner's folder on each start, only those that
  are not there yet: a learner's edits are never overwritten.
- :func:`limit_memory` caps a process's data segment (``RLIMIT_DATA``), the memory cap that works without
  root for the local spawner; not ``RLIMIT_AS``, which TensorFlow's reserved address space would hit at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .validation import CourseError

ROOT = Path(__file__).resolve().parents[1]
"""The course folder (this package is installed editable from it)."""

UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class HubConfigError(CourseError):
    """A setting of the course's JupyterHub (an ``XAI_HUB_*`` variable or ``CIFAR10_PATH``) that cannot work."""


@dataclass(frozen=True)
class HubSettings:
    """What ``deploy/jupyterhub/jupyterhub_config.py`` needs, read from the environment."""

    ip: str
    port: int
    api_port: int
    proxy_api_port: int
    root: Path
    notebooks: Path
    data: Path
    password: str
    users: tuple[str, ...]

    @property
    def homes(self) -> Path:
        """The folder that holds one home folder per learner."""
        return self.root / "homes"


def parse_size(text: str) -> int:
    """Bytes in a size as JupyterHub writes it (``"2G"``, ``"512M"``, ``"1073741824"``; K, M, G, T are powers
    of 1024, as JupyterHub's own ``mem_limit`` reads them)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)\s*", str(text))
    if not match or int(match.group(1)) == 0:
        raise HubConfigError(
            f"a memory size must be a positive whole number with an optional K, M, G or T; received {text!r}. "
            "Write it like 2G or 1536M."
        )
    return int(match.group(1)) * UNITS.get(match.group(2), 1)


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip() or str(default)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise HubConfigError(f"{name} must be a port number from 1 to 65535; received {text!r}. Unset it or fix it.")
    return int(text)


def _folder_or_file(env: Mapping[str, str], name: str, default: Path | None, what: str) -> Path:
    text = env.get(name, "").strip()
    if not text and default is None:
        raise HubConfigError(f"{name} is not set; it must point at {what}. Set it before starting the hub.")
    path = Path(text).expanduser() if text else default
    assert path is not None
    if not path.exists():
        raise HubConfigError(f"{name} points at {str(path)!r}, which does not exist; it must point at {what}.")
    return path.resolve()


def settings_from_env(env: Mapping[str, str] | None = None) -> HubSettings:
    """The hub's settings from ``env`` (default: ``os.environ``):

    - ``XAI_HUB_IP`` (default 127.0.0.1: this computer only) and ``XAI_HUB_PORT`` (8000): where learners
      connect; ``XAI_HUB_API_PORT`` (8081) and ``XAI_HUB_PROXY_API_PORT`` (8001): the hub's and its proxy's own
      ports, on 127.0.0.1;
    - ``XAI_HUB_ROOT`` (default ``~/xai-hub``): the learners' home folders and the hub's database;
    - ``XAI_HUB_NOTEBOOKS`` (default the course's ``notebooks/``; ``student/`` for student copies): copied into
      each learner's ``notebooks/`` folder;
    - ``CIFAR10_PATH`` (required): the one shared copy of CIFAR-10 that every learner's kernel reads;
    - ``XAI_HUB_PASSWORD``: the class's shared password, required unless the hub listens on 127.0.0.1 only;
    - ``XAI_HUB_USERS``: the learners' names, separated by commas (default: any name).
    """
    env = os.environ if env is None else env
    ip = env.get("XAI_HUB_IP", "").strip() or "127.0.0.1"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise HubConfigError(
            f"XAI_HUB_IP must be an IP address such as 127.0.0.1 or 0.0.0.0; received {ip!r}."
        ) from None
    password = env.get("XAI_HUB_PASSWORD", "")
    if not address.is_loopback and len(password) < 8:
        raise HubConfigError(
            f"XAI_HUB_IP={ip} opens the hub to the network, so XAI_HUB_PASSWORD must be set to the class's password "
            f"(8 characters or more); received {'no password' if not password else 'a shorter one'}."
        )
    users = tuple(u.strip() for u in env.get("XAI_HUB_USERS", "").split(",") if u.strip())
    for user in users:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,31}", user):
            raise HubConfigError(
                f"XAI_HUB_USERS holds {user!r}; a learner's name must be lower-case letters, digits, '.', '_' or '-' "
                "(at most 32, starting with a letter or digit), because it names their folder."
            )
    root = Path(env.get("XAI_HUB_ROOT", "").strip() or "~/xai-hub").expanduser().resolve()
    notebooks = _folder_or_file(env, "XAI_HUB_NOTEBOOKS", ROOT / "notebooks", "a folder of .ipynb files")
    if not notebooks.is_dir() or not any(notebooks.glob("*.ipynb")):
        raise HubConfigError(
            f"XAI_HUB_NOTEBOOKS points at {str(notebooks)!r}, which holds no .ipynb file; point it at the course's "
            "notebooks/ or at student/ (python -m course_utils.student)."
        )
    data = _folder_or_file(env, "CIFAR10_PATH", None, "cifar-10-python.tar.gz or its extracted cifar-10-batches-py")
    return HubSettings(
        ip=ip,
        port=_port(env, "XAI_HUB_PORT", 8000),
        api_port=_port(env, "XAI_HUB_API_PORT", 8081),
        proxy_api_port=_port(env, "XAI_HUB_PROXY_API_PORT", 8001),
        root=root,
        notebooks=notebooks,
        data=data,
        password=password,
        users=users,
    )


def copy_notebooks(source: Path, home: Path) -> list[Path]:
    """Copy every ``*.ipynb`` of ``source`` into ``home/notebooks/`` that is not there yet, and return the copies.

    A notebook already in ``home/notebooks/`` is left as it is, edited or not, and so is one the learner renamed
    or deleted on purpose only until the next start (it comes back, unedited). Nothing is ever overwritten: a
    copy is written to a temporary name and linked into place, which fails if the name exists meanwhile.
    """
    target = Path(home) / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in sorted(Path(source).glob("*.ipynb")):
        dest = target / notebook.name
        if dest.exists() or dest.is_symlink():
            continue
        tmp = target / f".{notebook.name}.copying"
        shutil.copyfile(notebook, tmp)
        try:
            os.link(tmp, dest)  # fails with FileExistsError instead of replacing a file written meanwhile
            copied.append(dest)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return copied


def limit_memory(nbytes: int) -> None:
    """Cap this process's data segment, and its children's, at ``nbytes`` (``RLIMIT_DATA``; Linux counts every
    private writable mapping, so TensorFlow's heap and its tensors). Past the cap an allocation fails: numpy
    raises ``MemoryError``, TensorFlow ``ResourceExhaustedError`` ("OOM when allocating tensor"). It is a cap
    per process (each kernel and the learner's Jupyter server each get it), not for all of a learner's
    processes together: that needs cgroups (The Littlest JupyterHub's systemdspawner). Call it in the child, between fork and exec."""
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (nbytes, nbytes))
