# JupyterHub for a class on this one machine: each learner logs in, gets JupyterLab with the course's environment,
# the course's notebooks copied into their own folder on first login, and the one shared copy of CIFAR-10.
# Start it with README.md's hub command (section "A shared server for a class"); the settings are environment
# variables, read and checked by course_utils.hub.settings_from_env (XAI_HUB_IP, XAI_HUB_PORT, XAI_HUB_ROOT,
# XAI_HUB_NOTEBOOKS, XAI_HUB_PASSWORD, XAI_HUB_USERS, CIFAR10_PATH).
#
# Isolation, plainly: every learner's server runs as the OS user who started the hub (SimpleLocalProcessSpawner),
# with a home folder of their own under XAI_HUB_ROOT/homes. Nothing stops a learner's code from reading or
# changing another learner's folder, or the data. That is fine for this machine's tests and for a trusted
# workshop; for a real class use The Littlest JupyterHub (a real OS user per learner, systemdspawner, memory and
# CPU limits enforced by systemd): docs/instructor_guide.md, section "Running the course on a shared server".
import os
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner

from course_utils import hub

here = Path(__file__).resolve().parent
settings = hub.settings_from_env()
hub.check_user(settings)  # as root: refused on the network, and on 127.0.0.1 without a password
c = get_config()  # noqa: F821 - JupyterHub defines get_config for its config files

# Where learners connect (XAI_HUB_IP, default 127.0.0.1: this computer only), and the hub's own ports.
c.JupyterHub.ip = settings.ip
c.JupyterHub.port = settings.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.api_port
settings.root.mkdir(parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{settings.root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(settings.root / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(settings.root / "jupyterhub.pid")

# The proxy: configurable-http-proxy from the npm registry, at the version in package-lock.json
# (npm ci --prefix deploy/jupyterhub, which the hub command runs).
proxy = here / "node_modules" / ".bin" / "configurable-http-proxy"
if not proxy.exists():
    raise hub.HubConfigError(
        f"JupyterHub's proxy is not installed at {proxy}; install it with `npm ci --prefix deploy/jupyterhub` "
        "(needs Node.js 20 or newer), then start the hub again."
    )
c.ConfigurableHTTPProxy.command = [str(proxy)]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"

# Logging in: one shared class password (XAI_HUB_PASSWORD); any name, or only those in XAI_HUB_USERS.
# On 127.0.0.1 without a password any password is accepted (only people on this computer can reach it).
c.JupyterHub.authenticator_class = "dummy"
if settings.password:
    c.DummyAuthenticator.password = settings.password
if settings.users:
    c.Authenticator.allow_all = False
    c.Authenticator.allowed_users = set(settings.users)
else:
    c.Authenticator.allow_all = True
# A name names the learner's folder (XAI_HUB_ROOT/homes/NAME): no "..", "." or other name that is no folder of its own.
c.Authenticator.username_pattern = hub.USERNAME_PATTERN

# Memory and CPU per learner, from the measured kernel peaks (README, "Performance": every notebook's kernel
# peaks between 0.77 and 1.19 GB): one open notebook, its Jupyter server and room to spare. See the instructor
# guide, section "Running the course on a shared server", for how many learners a machine holds.
MEM_LIMIT = "2G"
CPU_LIMIT = 1.0


class CourseSpawner(SimpleLocalProcessSpawner):
    """SimpleLocalProcessSpawner, which ignores mem_limit, with the memory cap it can enforce without root:
    RLIMIT_DATA on the learner's server, inherited by each kernel it starts (a cap per process, course_utils.hub.
    limit_memory). cpu_limit is not enforced here: it is passed on (CPU_LIMIT) for JupyterLab to show."""

    def make_preexec_fn(self, name):
        parent = super().make_preexec_fn(name)
        cap = hub.parse_size(self.mem_limit) if self.mem_limit else None

        def preexec():
            parent()
            if cap:
                hub.limit_memory(cap)

        return preexec


def copy_course(spawner):
    """Before each start: the course's notebooks that are not yet in the learner's notebooks/ folder."""
    home = Path(spawner.home_dir)
    home.mkdir(parents=True, exist_ok=True)
    hub.copy_notebooks(settings.notebooks, home)


c.JupyterHub.spawner_class = CourseSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(settings.homes / "{username}")
c.Spawner.pre_spawn_hook = copy_course
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.cpu_limit = CPU_LIMIT
# The course's environment: the single-user server of the Python that runs this hub, so its kernel is the
# course's (course_utils, TensorFlow, ipywidgets).
singleuser = Path(sys.executable).parent / "jupyterhub-singleuser"
c.Spawner.cmd = [str(singleuser if singleuser.exists() else shutil.which("jupyterhub-singleuser"))]
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.args = [
    # a kernel idle for an hour is shut down (a kernel holds its peak memory until then)
    "--MappingKernelManager.cull_idle_timeout=3600",
    "--MappingKernelManager.cull_connected=True",
    "--MappingKernelManager.cull_interval=300",
]
c.Spawner.environment = {
    "CIFAR10_PATH": str(settings.data),  # the one shared copy; the loader only reads it
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
if os.geteuid() == 0:
    # Every learner's server runs as the user who started the hub: as root, learners would be root.
    c.Spawner.args.append("--allow-root")  # only this computer reaches it, with a password (a test, a container)
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# The local spawner's servers stop with the hub (LocalProcessSpawner's servers are its children).
c.JupyterHub.cleanup_servers = True
