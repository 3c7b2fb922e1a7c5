"""Playwright helpers for JupyterLab 4 and Voilà pages with ipywidgets 8 (sync API).

The selectors were checked against JupyterLab 4.6 / ipywidgets 8.1.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.image
import numpy as np
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


def _pixels(png: bytes) -> np.ndarray:
    return matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]


def shows_the_same(old_png: bytes, new_png: bytes, *, tolerance=0.25, stray_pixels=20) -> bool:
    """True when two screenshots show the same thing.

    Chromium's text antialiasing moves glyph edges by a pixel from run to run,
    so each pixel is matched against the other image's pixels within one
    pixel of it; a real change (another number, another bar) leaves many
    pixels with no match.
    """
    old, new = _pixels(old_png), _pixels(new_png)
    # Layout rounding can also make an element's box a pixel taller or wider.
    if (
        old.shape[2] != new.shape[2]
        or max(abs(a - b) for a, b in zip(old.shape, new.shape, strict=True)) > 2
    ):
        return False
    rows, columns = min(old.shape[0], new.shape[0]), min(old.shape[1], new.shape[1])
    old, new = old[:rows, :columns], new[:rows, :columns]
    height, width = old.shape[:2]
    padded = np.pad(new, ((1, 1), (1, 1), (0, 0)), mode="edge")
    closest = np.full((height, width), np.inf)
    for dy in range(3):
        for dx in range(3):
            shifted = padded[dy : dy + height, dx : dx + width]
            closest = np.minimum(closest, np.abs(old - shifted).max(axis=-1))
    return int((closest > tolerance).sum()) <= stray_pixels


def save_if_changed(data: bytes, path: Path) -> None:
    """Write `data` unless the file already shows the same image (keeps a tracked file clean)."""
    if not path.exists() or not shows_the_same(path.read_bytes(), data):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
