"""Playwright helpers for JupyterLab 4 and Voilà pages with ipywidgets 8 (sync API).

The selectors were checked against JupyterLab 4.6 / ipywidgets 8.1.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

KERNEL_NAME = "Python 3 (next-token course)"
NOTEBOOK = ".jp-NotebookPanel .jp-Notebook"
RUN_MENU = "li.lm-MenuBar-item:has(.lm-MenuBar-itemLabel:text-is('Run'))"
RUN_ALL = "li.lm-Menu-item[data-command='runmenu:run-all']"
SLIDER_HANDLE = ".noUi-handle"  # role=slider, focusable: the arrow keys move it one step
SLIDER_READOUT = ".widget-readout"  # editable value box
OUTPUT = ".course-output"


def open_notebook(page: Page, url: str, timeout: float = 90_000) -> None:
    """Open a notebook and wait until its kernel is really idle.

    The toolbar's execution indicator says "idle" before any kernel exists;
    clicking Run All then races JupyterLab's own session start. The status
    bar's "<kernel name> | Idle" appears only once the kernel is connected.
    """
    page.goto(url)
    page.locator(NOTEBOOK).first.wait_for(timeout=timeout)
    expect(page.locator(".jp-StatusBar-TextItem", has_text=f"{KERNEL_NAME} | Idle")).to_be_visible(
        timeout=timeout
    )


def run_all(page: Page) -> None:
    page.locator(RUN_MENU).click()
    page.locator(RUN_ALL).click()


def slider(root: Locator, description: str) -> Locator:
    """The slider box in `root` whose label reads exactly `description`."""
    label = root.page.locator(f".widget-label:text-is({description!r})")
    return root.locator(".widget-slider").filter(has=label)


def press(slider_box: Locator, key: str, times: int = 1) -> None:
    handle = slider_box.locator(SLIDER_HANDLE)
    handle.focus()
    for _ in range(times):
        handle.press(key)


def type_value(slider_box: Locator, value) -> None:
    """Type an exact value into the slider's readout; Enter commits it."""
    readout = slider_box.locator(SLIDER_READOUT)
    readout.click()
    readout.press("Control+A")
    readout.type(str(value))
    readout.press("Enter")


def output(root: Locator) -> Locator:
    return root.locator(OUTPUT)


def chart_source(root: Locator) -> str:
    """The data URL of the widget's chart: it changes whenever the chart is redrawn."""
    return output(root).locator("img").get_attribute("src")


def save_if_changed(data: bytes, path: Path) -> None:
    """Write `data` unless the file already holds exactly it (keeps a tracked file clean)."""
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
