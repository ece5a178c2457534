"""Fixtures for the browser tests: a throw-away JupyterLab server and a Playwright page in the system Chromium.

Every test here is skipped, with the reason, when Playwright or Chromium is missing
(`apt-get install chromium` on Debian/Ubuntu, or point CHROMIUM_PATH at a Chromium/Chrome binary).

Fixtures:
    lab_root_dir   (module)  the directory JupyterLab serves; the repository root unless a module overrides it
    lab_server     (module)  a running `jupyter lab` (see jupyterlab_driver.LabServer), stopped after the module
    lab_page       (function) a fresh browser page; every kernel on the server is shut down after the test
On a failure the report gets the server log and a screenshot of the page (path printed in the report).

A notebook test, with the helpers from jupyterlab_driver:

    def test_notebook_03(lab_page, lab_server, tmp_path):
        panel = open_notebook(lab_page, lab_server, "notebooks/03_unlearning.ipynb")
        run_all_cells(lab_page, panel)
        wait_for_widgets(panel)
        before = last_image_src(panel)
        click_toggle_button(panel, "3", description="digit")
        press_slider(panel, "strength", "ArrowRight", times=2)
        click_button(panel, "Run")
        wait_for_new_image(panel, before)
        screenshot(lab_page, tmp_path / "03.png")
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .jupyterlab_driver import REPO_ROOT, browser_skip_reason, chromium_launch_args, jupyter_lab, screenshot

HERE = Path(__file__).resolve().parent
_SKIP_REASON = browser_skip_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test in this directory when Playwright or Chromium is missing; quiet a plugin deprecation."""
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        # pytest-base-url (pulled in by pytest-playwright) trips a pytest 9 deprecation warning; not ours to fix.
        item.add_marker(pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"))
        if _SKIP_REASON is not None:
            item.add_marker(pytest.mark.skip(reason=_SKIP_REASON))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """On a failing browser test, attach a screenshot of its page and the JupyterLab server log to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or report.when == "teardown" or HERE not in Path(str(item.path)).resolve().parents:
        return
    funcargs = getattr(item, "funcargs", {})
    server, page = funcargs.get("lab_server"), funcargs.get("lab_page")
    if page is not None and server is not None:
        path = server.work_dir / f"failure-{item.name}.png"
        try:
            report.sections.append(("browser screenshot", str(screenshot(page, path, full_page=True))))
        except Exception as error:  # the page may be gone; the rest of the report matters more
            report.sections.append(("browser screenshot", f"failed: {error!r}"))
    if server is not None:
        report.sections.append((f"jupyter lab log ({server.log_path})", server.log_tail()))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options, pointed at the system Chromium with the flags this machine needs."""
    headless = browser_type_launch_args.get("headless", True)
    return {**browser_type_launch_args, **chromium_launch_args(headless=headless)}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """pytest-playwright's context options with a laptop-sized viewport."""
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.fixture(scope="module")
def lab_root_dir() -> Path:
    """The directory JupyterLab serves (the repository root); override it in a module to serve another one."""
    return REPO_ROOT


@pytest.fixture(scope="module")
def lab_server(lab_root_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A running JupyterLab serving `lab_root_dir`, with its own config/data/runtime/settings/workspace dirs."""
    with jupyter_lab(lab_root_dir, tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server


@pytest.fixture
def lab_page(page, lab_server):
    """A fresh browser page (pytest-playwright's `page`); after the test, every kernel on the server is shut down."""
    page.set_default_timeout(60_000)
    yield page
    lab_server.shutdown_kernels()
