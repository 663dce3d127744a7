"""A class on the shared hub: N learners run notebook 04 at the same moment, then move a slider at the same moment.

    npm ci --prefix deploy/jupyterhub                      # the hub's proxy, once
    python benchmarks/hub_load.py --learners 1 2 4 6       # CIFAR10_PATH must point at the data
    python benchmarks/hub_load.py --learners 1 2 --json hub_load.json

Starts the real hub once (``deploy/jupyterhub/jupyterhub_config.py`` on 127.0.0.1, as ``tests/test_hub.py``
does, with its helpers). Then, for each N: N learners with fresh names log in, each in a browser context of
their own in one headless Chromium, and open their own copy of notebook 04; the stored outputs are cleared
and Run All is clicked in every page, one page after the other, within a fraction of a second. Measured:

- each learner's time from their click until every cell has run and the kernel is idle (median, max);
- the kernels' CPU seconds from the clicks on (summed), each kernel's peak resident memory, and the peak of the
  resident memory of the hub and all its processes together (proxy, servers, kernels: RSS summed, so shared
  pages count more than once);
- the explorer's class control moved in every page at once (``--moves`` times, a new class each time): each
  learner's time from their move until their picture's bytes change (median, max over all moves).

Each round's servers are stopped before the next. Slowdowns compare the run-all medians of the same run with
the one-learner round. The browsers run on the same cores as the hub (in a class they run on the learners'
computers), so the times are what this machine gives with both; their CPU seconds are printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' helpers: one copy of how the course drives JupyterLab

# Date.now() of every change of the picture's source (ipywidgets' Image sets a new blob: URL for new bytes)
_NOTE_CHANGES = """el => { el.__changes = [];
    new MutationObserver(() => el.__changes.push(Date.now())).observe(el, {attributes: true, attributeFilter: ['src']}); }"""
CLASSES = ["ship", "airplane", "truck", "frog", "horse"]  # the class control's moves, in this order


def _browser_cpu(psutil) -> float:
    """CPU seconds of this process's Chromium processes (Playwright's browser and its helpers)."""
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name().lower():
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def one_round(browser, url: str, root: Path, hub_pid: int, users: list[str], moves: int) -> dict:
    import psutil
    import test_browser as lab
    import test_hub as hubtest

    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in users]
    pages = {u: hubtest._login(c, url, u) for u, c in zip(users, contexts)}
    for page in pages.values():
        lab._prepare_run_all(page)  # kernel idle, stored outputs cleared

    watch = hubtest._KernelWatch(hub_pid)
    time.sleep(0.5)  # a first sample: the kernels' CPU time before the clicks (start-up, not the notebook)
    cpu_before = dict(watch.cpu)
    browser_before = _browser_cpu(psutil)
    clicked, ran = {}, {}
    for u in users:
        clicked[u] = time.time()
        lab._click_run_all(pages[u])
    end = time.time() + 600
    while len(ran) < len(users):
        for u in users:
            if u not in ran and lab._run_all_done(pages[u]):
                ran[u] = time.time() - clicked[u]
        if time.time() > end:
            raise RuntimeError(f"Run All did not finish in 10 min for {sorted(set(users) - set(ran))}")
        time.sleep(0.1)
    run_cpu = sum(t - cpu_before.get(pid, 0.0) for pid, t in watch.cpu.items())
    browser_run_cpu = _browser_cpu(psutil) - browser_before
    for u in users:
        errors = lab._errors(pages[u])
        if errors:
            raise RuntimeError(f"{u}'s notebook 04 shows errors: {errors}")

    cams = {u: lab._widget_with(pages[u], selects=1) for u in users}
    for cam in cams.values():
        cam.scroll_into_view_if_needed()
    picture = {u: lab._picture_hash(pages[u], cams[u]) for u in users}
    images = {u: cams[u].locator("img").first for u in users}
    for img in images.values():  # the page notes the clock each time its picture is replaced
        img.evaluate(_NOTE_CHANGES)
    slider: list[float] = []
    for label in CLASSES[:moves]:
        seen = {u: images[u].evaluate("el => el.__changes.length") for u in users}
        moved = {}
        for u in users:
            moved[u] = time.time()
            cams[u].locator("select").first.select_option(label=label)
        end = time.time() + 120
        while any(images[u].evaluate("el => el.__changes.length") == seen[u] for u in users):
            if time.time() > end:
                raise RuntimeError(f"a picture did not change within 2 min when the class became {label}")
            time.sleep(0.05)
        for u in users:
            changed_at = images[u].evaluate(f"el => el.__changes[{seen[u]}]") / 1e3  # the browser's clock, ms
            slider.append(changed_at - moved[u])
            new = lab._picture_hash(pages[u], cams[u])
            if new == picture[u]:
                raise RuntimeError(f"{u}'s picture was replaced by the same bytes when the class became {label}")
            picture[u] = new
    watch.stop()

    for u in users:  # stop this round's servers (and their kernels) before the next round
        hubtest._stop_server(pages[u], url, root, u)
    for c in contexts:
        c.close()
    peaks = sorted(watch.peak.values())
    return {
        "learners": len(users),
        "run_all_s": [round(ran[u], 2) for u in users],
        "kernel_cpu_s": round(run_cpu, 1),
        "browser_cpu_s": round(browser_run_cpu, 1),
        "kernel_peak_rss_gb": [round(b / 1e9, 2) for b in peaks],
        "hub_total_peak_rss_gb": round(watch.total_peak / 1e9, 2),
        "slider_s": [round(t, 3) for t in slider],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=[1, 2, 4, 6], help="class sizes, one round each")
    parser.add_argument("--moves", type=int, default=3, choices=range(1, len(CLASSES) + 1),
                        help="slider moves per round (a new class each)")
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.learners):
        parser.error(f"--learners takes class sizes of 1 or more; received {args.learners}")

    import test_hub as hubtest

    if not hubtest.CHROMIUM.exists():
        sys.exit(f"no Chromium at {hubtest.CHROMIUM}: install it with `apt-get install chromium` (or set CHROMIUM_PATH)")
    if not hubtest.PROXY.exists():
        sys.exit(f"JupyterHub's proxy is not installed at {hubtest.PROXY}: run `npm ci --prefix deploy/jupyterhub`")
    if not os.environ.get("CIFAR10_PATH"):
        sys.exit("CIFAR10_PATH is not set: point it at cifar-10-python.tar.gz (the hub hands it to every kernel)")
    import test_browser as lab

    rounds = [[f"r{k}-{i}" for i in range(1, n + 1)] for k, n in enumerate(args.learners, start=1)]
    results = []
    with tempfile.TemporaryDirectory(prefix="hub_load_") as tmp:
        root = Path(tmp)
        url, proc = hubtest.start_hub(root, [u for users in rounds for u in users])
        try:
            with lab.playwright_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(hubtest.CHROMIUM), headless=True,
                                            args=lab.CHROMIUM_ARGS)
                for users in rounds:
                    t = time.time()
                    results.append(one_round(browser, url, root, proc.pid, users, args.moves))
                    print(f"{len(users)} learner(s): done in {time.time() - t:.0f} s, {json.dumps(results[-1])}",
                          file=sys.stderr, flush=True)
                browser.close()
        finally:
            hubtest.stop_hub(proc)

    import jupyterhub

    cores = os.cpu_count() or 1
    print(f"Measured on: {platform.machine()}, {cores} CPU cores, Python {platform.python_version()}, JupyterHub "
          f"{jupyterhub.__version__}; notebook 04, Run All clicked in every page at once; {args.moves} slider "
          "moves per round (the class control of its CAM explorer); browsers on the same cores\n")
    print("| Learners | Learners per core | Run All: median / max | Slowdown vs 1 learner | Slider: median / max "
          "| Kernels' CPU (sum) | Browsers' CPU | Kernel peak (max) | Hub + servers + kernels, peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = next((statistics.median(r["run_all_s"]) for r in results if r["learners"] == 1), None)
    for r in results:
        med, top = statistics.median(r["run_all_s"]), max(r["run_all_s"])
        slow = f"{med / base:.1f} x" if base else "(no 1-learner round)"
        s_med, s_top = statistics.median(r["slider_s"]), max(r["slider_s"])
        print(f"| {r['learners']} | {r['learners'] / cores:g} | {med:.1f} s / {top:.1f} s | {slow} "
              f"| {s_med * 1e3:.0f} ms / {s_top * 1e3:.0f} ms | {r['kernel_cpu_s']:.0f} s | {r['browser_cpu_s']:.0f} s "
              f"| {max(r['kernel_peak_rss_gb']):.2f} GB | {r['hub_total_peak_rss_gb']:.1f} GB |")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": cores, "rounds": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
