"""Smoke test of the browser harness: a generated widget notebook driven end to end in JupyterLab + Chromium.

It proves what the notebook tests rely on: the server starts, a notebook opens with a live kernel, Run All
works, ipywidgets 8 render (not "Loading widget..." or a text repr), a ToggleButtons option, a FloatSlider
and a Button can be worked, and an Output widget redraws an inline matplotlib figure and prints a number.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .jupyterlab_driver import (
    LabError,
    cell_errors,
    cell_with_source,
    click_button,
    click_toggle_button,
    code_cell,
    image_bytes,
    open_notebook,
    output_text,
    press_slider,
    run_all_cells,
    screenshot,
    set_slider,
    slider_value,
    toggle_value,
    wait_for_kernel_idle,
    wait_for_new_image,
    wait_for_output_text,
    wait_for_widgets,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # end to end: CI runs it once (pytest -m slow)
NOTEBOOK = "widgets_smoke.ipynb"
FAILING_NOTEBOOK = "raises.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SETUP = """\
import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
"""

WIDGETS = """\
digit = widgets.ToggleButtons(options=list(range(10)), value=0, description="digit")
scale = widgets.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.5, description="scale")
draw = widgets.Button(description="Draw")
out = widgets.Output()


def render(_=None):
    value = digit.value * 10 + scale.value
    with out:
        out.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.bar([0], [value])
        ax.set_title(f"digit={digit.value} scale={scale.value}")
        plt.show()
        print(f"RESULT={value:.1f}")


draw.on_click(render)
display(widgets.VBox([digit, scale, draw, out]))
render()
"""


@pytest.fixture(scope="module")
def lab_root_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Serve a temporary directory holding the generated notebook (nothing lands in the repository)."""
    root = tmp_path_factory.mktemp("smoke-root")
    write_notebook(
        root / NOTEBOOK,
        nbformat.v4.new_markdown_cell("# Widget smoke test"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(WIDGETS),
        nbformat.v4.new_code_cell(""),  # an empty cell never gets an execution count; Run All must not wait on it
    )
    write_notebook(
        root / FAILING_NOTEBOOK,
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("1 / 0"),
        nbformat.v4.new_code_cell("print('never reached')"),
    )
    return root


def write_notebook(path: Path, *cells) -> None:
    """Write a Python 3 notebook made of `cells` to `path`."""
    notebook = nbformat.v4.new_notebook(cells=list(cells))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def result(panel) -> float:
    """The number the notebook's Output widget printed last."""
    return float(wait_for_output_text(panel.locator(".widget-output"), r"RESULT=([\d.]+)").group(1))


def test_widgets_drive_an_inline_plot(lab_page, lab_server, tmp_path):
    panel = open_notebook(lab_page, lab_server, NOTEBOOK)
    run_all_cells(lab_page, panel)
    wait_for_widgets(panel)
    cell = cell_with_source(panel, "widgets.ToggleButtons(")
    assert cell.locator(".widget-toggle-buttons").count() == 1
    assert code_cell(panel, 1).locator(".widget-slider").count() == 1  # the same cell, by position
    output = cell.locator(".widget-output")
    first_src = wait_for_new_image(output, None)
    assert image_bytes(first_src).startswith(PNG_MAGIC)
    assert result(panel) == 1.0
    screenshot(lab_page, tmp_path / "before.png")

    click_toggle_button(panel, "3", description="digit")
    assert toggle_value(panel, "digit") == "3"
    assert set_slider(panel, 4.5, "scale") == "4.50"
    assert press_slider(panel, "scale", "ArrowLeft", times=5) == "2.00"  # 0.5 per step
    assert slider_value(panel, "scale") == "2.00"
    click_button(panel, "Draw")

    new_src = wait_for_new_image(output, first_src)
    assert image_bytes(new_src).startswith(PNG_MAGIC)
    assert wait_for_output_text(output, re.escape("RESULT=32.0"))
    assert result(panel) == 32.0
    wait_for_kernel_idle(lab_page, panel)
    shot = screenshot(lab_page, tmp_path / "after.png")
    assert shot.stat().st_size > 10_000
    screenshot(output, tmp_path / "output.png")  # just the Output widget, scrolled into view
    print(f"screenshots: {tmp_path}")


def test_run_all_reports_the_failing_cell(lab_page, lab_server):
    panel = open_notebook(lab_page, lab_server, FAILING_NOTEBOOK)
    with pytest.raises(LabError, match="ZeroDivisionError"):
        run_all_cells(lab_page, panel)
    assert len(cell_errors(panel)) == 1
    assert "never reached" not in output_text(panel)  # Run All stopped at the error
