"""Fixtures for the real-browser tests: Debian's chromium and an isolated JupyterLab.

* The browser comes from pytest-playwright, pointed at /usr/bin/chromium
  (`playwright install` would try to download a browser). When it is missing
  the tests are skipped with the reason, except in CI (``CI=true``), where a
  missing browser is a failure: browser tests must never stop running silently.
* One JupyterLab per pytest process (per xdist worker) on 127.0.0.1, a free
  port, a random token, temporary JUPYTER_* folders; Voilà runs inside it
  (``/voila/render/...``). It is stopped by its PID.
* Screenshots and the server log go to ``test-artifacts/`` (gitignored); on a
  failure the page is captured there too.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixture_notebooks import ROOT, write_gallery, write_lab_notebook

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no outbound connections on a closed network
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = ROOT / "test-artifacts"
SERVER_START_SECONDS = 90


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_browser() -> None:
    """Skip (locally) or fail (in CI) when the browser tests cannot run here."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (install it: apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (make install)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if in_ci():
            pytest.fail(f"{reason}; in CI the browser tests must run, not skip.", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_browser()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 1000}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_report = report
    return report


@pytest.fixture
def capture_on_failure(request, artifacts):
    """Register pages; each is screenshotted into test-artifacts/ if the test fails."""
    pages = []
    yield pages.append
    report = getattr(request.node, "call_report", None)
    if report is not None and report.failed:
        for index, page in enumerate(pages):
            name = f"FAILED-{request.node.name}-{index}.png".replace("/", "_")
            try:
                page.screenshot(path=artifacts / name, full_page=True)
            except Exception as error:  # the page may be gone with the failure
                print(f"could not capture {name}: {error}")


# --- the server ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    base: str
    token: str
    process: subprocess.Popen
    log: Path
    notebooks: dict

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{separator}token={self.token}"


def _wait_until_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        time.sleep(0.2)
    raise TimeoutError(f"JupyterLab did not answer {url} within {SERVER_START_SECONDS} s")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM our server (it shuts its kernels down); kill its own group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, artifacts):
    require_browser()
    notebook_dir = tmp_path_factory.mktemp("course")
    notebooks = {"gallery": write_gallery(notebook_dir), "lab": write_lab_notebook(notebook_dir)}
    home = tmp_path_factory.mktemp("jupyter-home")
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    # The "get notified about Jupyter news?" toast would cover the notebook.
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    environment = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",  # a lost port race fails loudly instead of moving elsewhere
        f"--IdentityProvider.token={token}",
        "--allow-root",
        f"--ServerApp.root_dir={notebook_dir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log = artifacts / f"jupyterlab-{worker}.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_ready(f"http://127.0.0.1:{port}/api/status?token={token}", process, log)
        yield Server(f"http://127.0.0.1:{port}", token, process, log, notebooks)
    finally:
        _stop(process)
