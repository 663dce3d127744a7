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
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .validation import CourseError

ROOT = Path(__file__).resolve().parents[1]
"""The course folder (this package is installed editable from it)."""

#: A learner's name: it names their home folder, so never "." or "..", and never a path.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
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
        if not re.fullmatch(USERNAME_PATTERN, user):
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


def check_user(settings: HubSettings, euid: int | None = None) -> None:
    """Refuse to run the hub as root (``euid`` 0; default: this process's) where that would hand root to others.

    Every learner's server runs as the user who started the hub, so as root each learner's code runs as root. On
    the network that is refused outright; on 127.0.0.1 only with a password (``XAI_HUB_PASSWORD``), because
    without one any password is accepted, and any account on this computer could log in and run code as root.
    """
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return
    if not ipaddress.ip_address(settings.ip).is_loopback:
        raise HubConfigError(
            f"the hub was started as root and XAI_HUB_IP={settings.ip} opens it to the network: every learner's code "
            "would run as root. Start it as an ordinary user, or use The Littlest JupyterHub (a user per learner)."
        )
    if not settings.password:
        raise HubConfigError(
            "the hub was started as root without XAI_HUB_PASSWORD: any password would be accepted, so any account "
            "on this computer could log in and run code as root. Start it as an ordinary user, or set "
            "XAI_HUB_PASSWORD."
        )


def copy_notebooks(source: Path, home: Path) -> list[Path]:
    """Copy every ``*.ipynb`` of ``source`` into ``home/notebooks/`` that is not there yet, and return the copies.

    A notebook already in ``home/notebooks/`` is left as it is, edited or not, and so is one the learner renamed
    or deleted on purpose only until the next start (it comes back, unedited). Nothing is ever overwritten and no
    link is followed: the folder is opened without following a link (a ``notebooks`` that is a link is refused
    with a :class:`HubConfigError`), each copy is written to a new temporary name in it (``O_EXCL``: a file or
    link planted at that name is never written through) and linked into place, which fails if the name exists.
    """
    target = Path(home) / "notebooks"
    if not target.is_symlink():
        target.mkdir(parents=True, exist_ok=True)
    try:
        folder = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise HubConfigError(
            f"{str(target)!r} is not a folder the course can copy its notebooks into ({exc.strerror}): it must be "
            "a plain folder, not a link. Move it away (the learner's files in it are kept), then start again."
        ) from None
    copied = []
    try:
        existing = set(os.listdir(folder))
        for notebook in sorted(Path(source).glob("*.ipynb")):
            if notebook.name in existing:  # a file, folder or link of that name: the learner's, never replaced
                continue
            data = notebook.read_bytes()
            tmp = f".{notebook.name}.{os.getpid()}.{secrets.token_hex(4)}.copying"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                # fails with FileExistsError instead of replacing a file (or link) written meanwhile
                os.link(tmp, notebook.name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
                copied.append(target / notebook.name)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp, dir_fd=folder)
    finally:
        os.close(folder)
    return copied


def limit_memory(nbytes: int) -> None:
    """Cap this process's data segment, and its children's, at ``nbytes`` (``RLIMIT_DATA``; Linux counts every
    private writable mapping, so TensorFlow's heap and its tensors). Past the cap an allocation fails: numpy
    raises ``MemoryError``, TensorFlow ``ResourceExhaustedError`` ("OOM when allocating tensor"). It is a cap
    per process (each kernel and the learner's Jupyter server each get it), not for all of a learner's
    processes together: that needs cgroups (The Littlest JupyterHub's systemdspawner). Call it in the child, between fork and exec."""
    import resource

    resource.setrlimit(resource.RLIMIT_DATA, (nbytes, nbytes))
