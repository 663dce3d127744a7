"""The shared server for a class (``deploy/jupyterhub``, README section "A shared server for a class").

Fast tests check ``course_utils.hub``: the settings it refuses, the first-login copy that never overwrites, the
memory cap. The browser test (markers ``browser`` and ``slow``) starts the real hub: JupyterHub from PyPI with
the course's ``jupyterhub_config.py`` and its proxy, configurable-http-proxy from the npm registry
(``npm ci --prefix deploy/jupyterhub``), on 127.0.0.1 at free ports with a temporary root for the learners'
homes. Two learners log in through headless Chromium, each in a browser context of their own, open notebook 04
(their own copy), run all its cells at the same time, move the explorer's class control and see the picture
change; each adds a cell that writes a file, the files land in their own folders, and a second start keeps the
edited notebook. The two kernels' peak memory and the run's time go to ``artifacts/browser/hub_measurements.json``
(the instructor guide's sizing). Without Chromium or Playwright it skips, saying so; without the proxy it skips
locally and fails in CI (``CI`` set, as ``.ci/run`` does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from course_utils import hub

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "jupyterhub"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts" / "browser"
NOTEBOOK = "04_class_activation_maps.ipynb"
PASSWORD = "a-class-password"  # the class password of the hub the browser test starts


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    data = tmp_path / "cifar-10-python.tar.gz"
    data.touch()
    return {"CIFAR10_PATH": str(data), "XAI_HUB_ROOT": str(tmp_path / "hub"), **extra}


# ---------------------------------------------------------------- settings


def test_the_defaults_listen_on_this_computer_only(tmp_path):
    s = hub.settings_from_env(_env(tmp_path))
    assert (s.ip, s.port, s.api_port, s.proxy_api_port) == ("127.0.0.1", 8000, 8081, 8001)
    assert s.notebooks == ROOT / "notebooks" and s.users == () and s.password == ""
    assert s.homes == tmp_path / "hub" / "homes"


@pytest.mark.parametrize("password", ["", "short"])
def test_a_hub_open_to_the_network_needs_a_real_password(tmp_path, password):
    with pytest.raises(hub.HubConfigError, match="XAI_HUB_PASSWORD must be set") as err:
        hub.settings_from_env(_env(tmp_path, XAI_HUB_IP="0.0.0.0", XAI_HUB_PASSWORD=password))
    assert "0.0.0.0" in str(err.value)
    s = hub.settings_from_env(_env(tmp_path, XAI_HUB_IP="0.0.0.0", XAI_HUB_PASSWORD="class-of-2026"))
    assert s.ip == "0.0.0.0" and s.password == "class-of-2026"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("XAI_HUB_PORT", "80a", "XAI_HUB_PORT must be a port number"),
        ("XAI_HUB_PORT", "70000", "received '70000'"),
        ("XAI_HUB_API_PORT", "0", "XAI_HUB_API_PORT must be a port number"),
        ("XAI_HUB_IP", "my-laptop", "XAI_HUB_IP must be an IP address"),
        ("XAI_HUB_USERS", "ada,../bob", "'../bob'"),
        ("XAI_HUB_USERS", "Ada", "lower-case"),
        ("XAI_HUB_NOTEBOOKS", "/nonexistent/notebooks", "does not exist"),
        ("CIFAR10_PATH", "/nonexistent/cifar-10-python.tar.gz", "does not exist"),
    ],
)
def test_a_bad_setting_is_refused_saying_what_was_received(tmp_path, name, value, message):
    with pytest.raises(hub.HubConfigError, match=re.escape(message)) as err:
        hub.settings_from_env(_env(tmp_path, **{name: value}))
    assert isinstance(err.value, hub.CourseError)


def test_the_data_is_required_and_a_folder_without_notebooks_is_refused(tmp_path):
    env = _env(tmp_path)
    del env["CIFAR10_PATH"]
    with pytest.raises(hub.HubConfigError, match="CIFAR10_PATH is not set"):
        hub.settings_from_env(env)
    (tmp_path / "empty").mkdir()
    with pytest.raises(hub.HubConfigError, match="holds no .ipynb"):
        hub.settings_from_env(_env(tmp_path, XAI_HUB_NOTEBOOKS=str(tmp_path / "empty")))


@pytest.mark.parametrize(("text", "nbytes"), [("2G", 2 * 1024**3), ("1536M", 1536 * 1024**2), ("4096", 4096)])
def test_sizes_are_read_as_jupyterhub_reads_them(text, nbytes):
    assert hub.parse_size(text) == nbytes


@pytest.mark.parametrize("text", ["", "0", "2GB", "-1G", "1.5G", "lots"])
def test_a_bad_size_is_refused(text):
    with pytest.raises(hub.HubConfigError, match="received"):
        hub.parse_size(text)


# ---------------------------------------------------------------- the first-login copy


def test_the_copy_fills_in_what_is_missing_and_never_overwrites(tmp_path):
    source = tmp_path / "course"
    source.mkdir()
    (source / "01_a.ipynb").write_text("course 01")
    (source / "02_b.ipynb").write_text("course 02")
    (source / "notes.txt").write_text("not a notebook")
    home = tmp_path / "ada"
    assert [p.name for p in hub.copy_notebooks(source, home)] == ["01_a.ipynb", "02_b.ipynb"]
    assert sorted(p.name for p in (home / "notebooks").iterdir()) == ["01_a.ipynb", "02_b.ipynb"]
    (home / "notebooks" / "01_a.ipynb").write_text("ada's answers")
    (home / "notebooks" / "02_b.ipynb").unlink()
    (source / "01_a.ipynb").write_text("course 01, updated")
    (source / "03_c.ipynb").write_text("course 03")
    assert [p.name for p in hub.copy_notebooks(source, home)] == ["02_b.ipynb", "03_c.ipynb"]
    assert (home / "notebooks" / "01_a.ipynb").read_text() == "ada's answers"
    assert not list((home / "notebooks").glob(".*"))  # no temporary file left behind


def _one_notebook_and_a_file_outside(tmp_path):
    """A course folder with one notebook, and a file outside every learner's folder that a link could point at."""
    source = tmp_path / "course"
    source.mkdir()
    (source / "01_a.ipynb").write_text("course 01")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    return source, outside


def test_the_copy_never_writes_through_a_link(tmp_path):
    source, outside = _one_notebook_and_a_file_outside(tmp_path)
    (tmp_path / "ada" / "notebooks").mkdir(parents=True)
    (tmp_path / "ada" / "notebooks" / "01_a.ipynb").symlink_to(outside)
    assert hub.copy_notebooks(source, tmp_path / "ada") == []
    assert outside.read_text() == "keep me"


def test_the_copy_never_writes_through_a_link_planted_at_its_temporary_name(tmp_path):
    source, outside = _one_notebook_and_a_file_outside(tmp_path)
    notebooks = tmp_path / "ada" / "notebooks"
    notebooks.mkdir(parents=True)
    planted = notebooks / ".01_a.ipynb.copying"  # the name an earlier version wrote its copy to
    planted.symlink_to(outside)
    assert [p.name for p in hub.copy_notebooks(source, tmp_path / "ada")] == ["01_a.ipynb"]
    assert outside.read_text() == "keep me" and planted.is_symlink()
    assert (notebooks / "01_a.ipynb").read_text() == "course 01" and not (notebooks / "01_a.ipynb").is_symlink()
    assert sorted(p.name for p in notebooks.iterdir()) == [".01_a.ipynb.copying", "01_a.ipynb"]


def test_a_notebooks_folder_that_is_a_link_is_refused_not_followed(tmp_path):
    source = tmp_path / "course"
    source.mkdir()
    (source / "01_a.ipynb").write_text("course 01")
    elsewhere = tmp_path / "bob" / "notebooks"
    elsewhere.mkdir(parents=True)
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "notebooks").symlink_to(elsewhere)
    with pytest.raises(hub.HubConfigError, match="not a link") as err:
        hub.copy_notebooks(source, tmp_path / "ada")
    assert str(tmp_path / "ada" / "notebooks") in str(err.value)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    ("ip", "password", "message"),
    [("0.0.0.0", "class-of-2026", "opens it to the network"), ("127.0.0.1", "", "without XAI_HUB_PASSWORD")],
)
def test_root_is_refused_on_the_network_and_without_a_password(tmp_path, ip, password, message):
    s = hub.settings_from_env(_env(tmp_path, XAI_HUB_IP=ip, XAI_HUB_PASSWORD=password))
    with pytest.raises(hub.HubConfigError, match=message):
        hub.check_user(s, euid=0)
    hub.check_user(s, euid=1000)  # an ordinary user: the settings' own checks suffice


def test_root_on_this_computer_with_a_password_is_allowed(tmp_path):
    for ip in ("127.0.0.1", "::1"):
        hub.check_user(hub.settings_from_env(_env(tmp_path, XAI_HUB_IP=ip, XAI_HUB_PASSWORD="a-password")), euid=0)


@pytest.mark.parametrize("name", ["..", ".", "-rf", "ada/bob", "Ada", "a" * 33])
def test_a_name_that_is_no_folder_of_its_own_cannot_log_in(name):
    assert not re.match(hub.USERNAME_PATTERN, name)
    assert re.match(hub.USERNAME_PATTERN, "mei.li_2") and "username_pattern = hub.USERNAME_PATTERN" in (
        DEPLOY / "jupyterhub_config.py").read_text()


def test_the_memory_cap_stops_an_allocation_above_it_and_allows_one_below():
    code = (
        "from course_utils import hub; hub.limit_memory(hub.parse_size('512M'))\n"
        "ok = bytearray(256 * 1024**2)\n"
        "try:\n    bytearray(768 * 1024**2)\nexcept MemoryError:\n    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.stdout.strip() == "refused", out.stderr


def test_the_config_sets_the_limits_and_the_proxy_is_pinned():
    config = (DEPLOY / "jupyterhub_config.py").read_text()
    assert 'MEM_LIMIT = "2G"' in config and "CPU_LIMIT = 1.0" in config
    assert "SimpleLocalProcessSpawner" in config and "The Littlest JupyterHub" in config
    package = json.loads((DEPLOY / "package.json").read_text())
    lock = json.loads((DEPLOY / "package-lock.json").read_text())
    version = package["dependencies"]["configurable-http-proxy"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin configurable-http-proxy to one version"
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == version
    assert "node_modules/" in (ROOT / ".gitignore").read_text()


def test_readme_has_the_hub_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- hub-command -->", 1)[1].split("```", 2)[1]
    assert 'pip install -e ".[hub]"' in block and "npm ci --prefix deploy/jupyterhub" in block
    assert "jupyterhub -f deploy/jupyterhub/jupyterhub_config.py" in block


# ---------------------------------------------------------------- the real hub, two learners in Chromium


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _lab_settings(home: Path) -> None:
    """What tests/test_browser.py gives its JupyterLab: every cell rendered, the kernel started without asking, no
    news; in the learner's own settings folder (~/.jupyter/lab/user-settings)."""
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))


def start_hub(root: Path, users: list[str]) -> tuple[str, subprocess.Popen]:
    """The real hub with the course's configuration on 127.0.0.1 at free ports, ``root`` as its XAI_HUB_ROOT, only
    ``users`` allowed in (password ``PASSWORD``), each with ``_lab_settings``; its log goes to root/jupyterhub.log.
    Returns its address and process; raises RuntimeError, with the log's end, when it does not start."""
    for user in users:
        _lab_settings(root / "homes" / user)
    port, api_port, proxy_port = _free_ports(3)
    env = dict(os.environ, XAI_HUB_ROOT=str(root), XAI_HUB_PORT=str(port), XAI_HUB_API_PORT=str(api_port),
               XAI_HUB_PROXY_API_PORT=str(proxy_port), XAI_HUB_PASSWORD=PASSWORD,
               XAI_HUB_USERS=",".join(users), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("XAI_HUB_IP", None)
    env.pop("XAI_HUB_NOTEBOOKS", None)
    jupyterhub = shutil.which("jupyterhub", path=str(Path(sys.executable).parent)) or "jupyterhub"
    with open(root / "jupyterhub.log", "w") as log:  # the child keeps its own copy of the file
        proc = subprocess.Popen([jupyterhub, "-f", str(DEPLOY / "jupyterhub_config.py")], cwd=root, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/hub/api", timeout=1)
            return url, proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterHub stopped at once; see {root / 'jupyterhub.log'}:\n"
                                   f"{(root / 'jupyterhub.log').read_text()[-3000:]}") from None
            time.sleep(0.5)
    stop_hub(proc)
    raise RuntimeError(f"JupyterHub did not start in 60 s; see {root / 'jupyterhub.log'}")


def stop_hub(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


@pytest.fixture(scope="module")
def real_hub(tmp_path_factory, cifar10):
    if not CHROMIUM.exists():
        pytest.skip(f"hub browser test skipped: no Chromium at {CHROMIUM} (install it with `apt-get install chromium`)")
    pytest.importorskip("playwright.sync_api", reason="hub browser test skipped: Playwright for Python is not installed")
    pytest.importorskip("jupyterhub", reason='hub browser test skipped: JupyterHub is not installed (pip install -e ".[hub]")')
    if not PROXY.exists():
        why = f"JupyterHub's proxy is not installed at {PROXY}: run `npm ci --prefix deploy/jupyterhub` (Node.js 20+)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip("hub browser test skipped: " + why)
    root = tmp_path_factory.mktemp("hub")
    try:
        url, proc = start_hub(root, ["ada", "bob"])
    except RuntimeError as err:
        pytest.fail(str(err))
    yield url, root, proc
    stop_hub(proc)


def _login(context, url: str, user: str):
    page = context.new_page()
    target = f"/user/{user}/lab/workspaces/hub/tree/notebooks/{NOTEBOOK}?reset"
    # after the login, start the learner's server and open notebook 04 (not the default, notebook 00)
    spawn = f"/hub/spawn/{user}?next={urllib.parse.quote(target, safe='')}"
    page.goto(f"{url}/hub/login?next={urllib.parse.quote(spawn, safe='')}", wait_until="domcontentloaded")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"^{re.escape(url)}/user/{user}/lab/"), timeout=180_000)
    return page


def _server_running(root: Path, user: str) -> bool:
    import psutil

    for p in psutil.process_iter(["cmdline", "environ"]):
        try:
            if "jupyterhub-singleuser" in " ".join(p.info["cmdline"] or []) and (
                    (p.info["environ"] or {}).get("JUPYTERHUB_USER") == user
                    and (p.info["environ"] or {}).get("HOME") == str(root / "homes" / user)):
                return True
        except psutil.Error:
            pass
    return False


def _stop_server(page, url: str, root: Path, user: str) -> None:
    """Stop ``user``'s server from their hub home page (the page is logged in as them); wait until it has gone."""
    import test_browser as lab

    page.goto(f"{url}/hub/home", wait_until="load")
    for attempt in range(6):  # a click before the page's script has bound the button does nothing: click again
        page.click("#stop")
        try:
            page.wait_for_selector("#stop", state="hidden", timeout=10_000)  # shown only while a server runs
            break
        except lab.playwright_api.TimeoutError:
            if attempt == 5:
                raise
    end = time.time() + 60
    while (root / "homes" / user).exists() and _server_running(root, user) and time.time() < end:
        time.sleep(0.5)


class _KernelWatch:
    """Peak resident memory (RSS) and CPU time of the hub's kernels, sampled every 0.2 s; and the peak of the sum
    of the RSS of the hub and all its processes (proxy, learners' servers, kernels), ``total_peak``."""

    def __init__(self, hub_pid: int):
        import psutil

        self.hub = psutil.Process(hub_pid)
        self.peak: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.total_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.hub, *self.hub.children(recursive=True)]:
                try:
                    rss = p.memory_info().rss
                    total += rss
                    if "ipykernel_launcher" in " ".join(p.cmdline()):
                        self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)
                        t = p.cpu_times()
                        self.cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
            self.total_peak = max(self.total_peak, total)
            time.sleep(0.2)

    def stop(self):
        self._stop.set()
        self._thread.join()


@pytest.mark.slow
@pytest.mark.browser
def test_two_learners_use_the_hub_at_once(real_hub):
    import test_browser as lab  # the same JupyterLab driving as the single-learner browser tests

    url, root, proc = real_hub
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    users = ("ada", "bob")
    with lab.playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=lab.CHROMIUM_ARGS)
        contexts = {u: browser.new_context(viewport={"width": 1400, "height": 1000}) for u in users}
        pages = {u: _login(contexts[u], url, u) for u in users}
        for u in users:  # each got the course's notebooks in their own folder on first login
            copy = root / "homes" / u / "notebooks" / NOTEBOOK
            assert copy.read_bytes() == (ROOT / "notebooks" / NOTEBOOK).read_bytes()
            assert len(list(copy.parent.glob("*.ipynb"))) == len(list((ROOT / "notebooks").glob("*.ipynb")))

        watch = _KernelWatch(proc.pid)
        start = time.time()
        for u in users:
            lab._start_run_all(pages[u])
        ran: dict[str, float] = {}
        for u in users:
            lab._wait_run_all(pages[u])
            ran[u] = time.time() - start
        watch.stop()
        for u in users:
            assert lab._errors(pages[u]) == [], u
            pages[u].screenshot(path=str(ARTIFACTS / f"hub_{u}_ran.png"))

        for u, label in (("ada", "ship"), ("bob", "airplane")):  # each moves their own explorer
            cam = lab._widget_with(pages[u], selects=1)
            cam.scroll_into_view_if_needed()
            first = lab._picture_hash(pages[u], cam)
            cam.locator("select").first.select_option(label=label)
            second = lab._wait_for_new_picture(pages[u], cam, first)
            assert second != first, f"{u}'s CAM did not change when the class became {label}"
            pages[u].screenshot(path=str(ARTIFACTS / f"hub_{u}_{label}.png"))

        # each adds a cell that writes who they are, what caps their memory and where the data is, then saves
        for u in users:
            page = pages[u]
            page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputArea, .jp-Cell-inputWrapper").first.click()
            page.keyboard.press("Escape")
            page.keyboard.press("b")
            page.keyboard.press("Enter")
            page.keyboard.insert_text(
                "import os, resource\n"
                f"open('whoami.txt', 'w').write('{u} ' + os.environ['JUPYTERHUB_USER'] + ' ' + os.getcwd() + ' '"
                " + str(resource.getrlimit(resource.RLIMIT_DATA)[0]) + ' ' + os.environ['CIFAR10_PATH'])")
            page.keyboard.press("Shift+Enter")
            page.keyboard.press("Control+s")
        for u in users:
            mine = root / "homes" / u / "notebooks" / "whoami.txt"
            end = time.time() + 60
            while not mine.exists() and time.time() < end:
                time.sleep(0.5)
            name, hub_user, cwd, cap, data = mine.read_text().split(" ")
            assert (name, hub_user, cwd) == (u, u, str(root / "homes" / u / "notebooks"))
            assert int(cap) == hub.parse_size("2G")
            # the one shared copy, as the hub resolved it (CI gives a path with ".."; the same file)
            assert Path(data).resolve() == Path(os.environ.get("CIFAR10_PATH", data)).expanduser().resolve()
            assert Path(data).exists()
        end = time.time() + 60
        saved = {}
        while time.time() < end:
            saved = {u: (root / "homes" / u / "notebooks" / NOTEBOOK).read_text() for u in users}
            if all(f"write('{u} '" in saved[u] for u in users):
                break
            time.sleep(0.5)
        assert "write('ada '" in saved["ada"] and "write('bob '" not in saved["ada"]
        assert "write('bob '" in saved["bob"] and "write('ada '" not in saved["bob"]

        # ada's server stops and starts again: the first-login copy does not overwrite her edited notebook
        page = pages["ada"]
        _stop_server(page, url, root, "ada")
        edited = saved["ada"]
        page.goto(f"{url}/hub/spawn/ada?next=/user/ada/lab", wait_until="domcontentloaded")
        page.wait_for_url(re.compile(rf"^{re.escape(url)}/user/ada/lab"), timeout=180_000)
        assert (root / "homes" / "ada" / "notebooks" / NOTEBOOK).read_text() == edited
        assert (root / "homes" / "bob" / "notebooks" / NOTEBOOK).read_text() == saved["bob"]
        browser.close()

    peaks = sorted(watch.peak.values())
    assert len(peaks) >= 2, f"expected two kernels, saw {len(peaks)}"
    measured = {
        "what": "two learners run notebook 04 at once (Run All, from a cleared notebook) on this hub",
        "cpus": os.cpu_count(),
        "seconds_until_each_finished": {u: round(t, 1) for u, t in ran.items()},
        "kernel_peak_rss_gb": [round(b / 1e9, 2) for b in peaks],
        "kernel_cpu_seconds": sorted(round(t, 1) for t in watch.cpu.values()),
    }
    (ARTIFACTS / "hub_measurements.json").write_text(json.dumps(measured, indent=2) + "\n")
    print(json.dumps(measured))
