"""The course in a real JupyterLab and a real Chromium: notebook 03's panel and notebook 04's scrubber respond.

Runs the notebooks in fast mode, offline, with a model cache of their own. The screenshots the
README shows go to a temporary folder, or into the folder MAE_SCREENSHOTS names (`make images`: images/).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .jupyterlab_driver import (
    REPO_ROOT,
    cell_with_source,
    click_button,
    click_toggle_button,
    open_notebook,
    press_slider,
    run_all_cells,
    screenshot,
    slider_value,
    wait_for_kernel_idle,
    wait_for_new_image,
    wait_for_output_text,
    wait_for_widgets,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # end to end: CI runs it once (pytest -m slow)
SUMMARY = re.compile(r"forget \[([\d, ]+)\] at strength ([\d.]+)\s+MSE forgotten digits: [\d.]+ -> ([\d.]+)")


@pytest.fixture(scope="module")
def lab_root_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Serve the repository; its kernels run in fast mode, offline, with their own model cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("MAE_FAST", "1")
    patch.setenv("MAE_DATA_SOURCE", "offline")
    patch.setenv("MAE_CACHE_DIR", str(tmp_path_factory.mktemp("browser-model-cache")))
    yield REPO_ROOT
    patch.undo()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: MAE_SCREENSHOTS (`make images` sets images/), else a temporary folder."""
    chosen = os.environ.get("MAE_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


def test_notebook_03_panel_unlearns_the_digit_picked_in_the_browser(lab_page, lab_server, screenshots):
    notebook = open_notebook(lab_page, lab_server, "notebooks/03_q_layers_and_unlearning.ipynb")
    run_all_cells(lab_page, notebook, timeout=900)
    wait_for_widgets(notebook)
    cell = cell_with_source(notebook, "panel.widget()")
    output = cell.locator(".widget-output")
    # Nothing drawn in the panel yet: press Unlearn once with the defaults to have a "before".
    click_button(cell, "Unlearn")
    first = SUMMARY.search(wait_for_output_text(output, SUMMARY, timeout=180).string)
    first_image = wait_for_new_image(output, None)

    # A learner picks another digit, raises the strength and presses Unlearn again.
    click_toggle_button(cell, "0")  # release 0 ...
    click_toggle_button(cell, "5")  # ... and forget 5 as well
    strength = press_slider(cell, "strength", "ArrowRight", times=4)
    click_button(cell, "Unlearn")
    wait_for_new_image(output, first_image, timeout=180)
    second = wait_until(lambda: (m := SUMMARY.search(output.inner_text())) and m.group(1) != first.group(1) and m,
                        180, "the panel's numbers did not update")
    assert "5" in second.group(1).split(", ") and "0" not in second.group(1).split(", ")
    assert float(second.group(2)) == float(strength) > float(first.group(2))
    assert second.group(3) != first.group(3)  # the reported error changed with the new run
    wait_for_kernel_idle(lab_page, notebook)
    cell.scroll_into_view_if_needed()
    screenshot(cell, screenshots / "panel_03.png")


def test_notebook_04_scrubber_swaps_the_picture(lab_page, lab_server, screenshots):
    notebook = open_notebook(lab_page, lab_server, "notebooks/04_visual_evaluation.ipynb")
    run_all_cells(lab_page, notebook, timeout=900)
    wait_for_widgets(notebook)
    cell = cell_with_source(notebook, "StrengthScrubber(strengths")
    picture = cell.locator("img.widget-image")

    def src():
        return picture.first.get_attribute("src")

    before, caption_before = src(), cell.locator(".widget-html").first.inner_text()
    assert before
    value = press_slider(cell, "strength", "ArrowRight", times=2)
    assert value == slider_value(cell, "strength")
    after = wait_until(lambda: (s := src()) != before and s, 30, "the scrubber's picture did not change")
    assert after != before
    assert cell.locator(".widget-html").first.inner_text() != caption_before
    cell.scroll_into_view_if_needed()
    screenshot(cell, screenshots / "scrubber_04.png")
