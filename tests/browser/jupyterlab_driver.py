"""Drive a real JupyterLab 4 (with ipywidgets 8) from Playwright: start a server, open notebooks, work widgets.

Server side: `start_jupyter_lab` / `stop_jupyter_lab` (or the `jupyter_lab` context manager) run
`python -m jupyterlab` on a free loopback port with a random token and throw-away config, data, runtime,
settings and workspace directories, so no news pop-up, saved layout or user setting gets in the way.

Page side: plain functions that take a Playwright `Page`, or a `Locator` to search within (a notebook panel
from `open_notebook`, one cell from `code_cell` / `cell_with_source`, an Output widget ...):
    notebooks  `open_notebook`, `notebook_panel`, `run_all_cells`, `cell_errors`, `wait_for_kernel_idle`,
               `kernel_status`, `run_menu_command`, `code_cell`, `cell_with_source`
    widgets    `wait_for_widgets`, `click_toggle_button`, `toggle_value`, `slider`, `slider_value`,
               `press_slider`, `set_slider`, `button`, `click_button`
    outputs    `images`, `last_image_src`, `image_bytes`, `wait_for_new_image`, `output_text`,
               `wait_for_output_text`, `screenshot`
Every wait has a timeout and raises `LabError` saying what it waited for.

Playwright is only imported for type hints, so importing this module never fails where it is missing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    Scope = Union[Page, Locator]

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "apt-get install chromium (Debian/Ubuntu) or set CHROMIUM_PATH"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's own connections get refused many at a time here.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

LAB_START_TIMEOUT = 120.0  # seconds: a cold JupyterLab start on 2 busy cores
KERNEL_TIMEOUT = 120.0  # seconds: kernel start, and any single wait for the kernel to become idle
RUN_ALL_TIMEOUT = 300.0  # seconds: a whole notebook, top to bottom
UI_TIMEOUT = 60.0  # seconds: a widget to appear or an output to change

# JupyterLab front-end plugins switched off: the news/update pop-up and the PyPI extension manager.
DISABLED_LAB_EXTENSIONS = {
    "@jupyterlab/apputils-extension:announcements": True,
    "@jupyterlab/extensionmanager-extension:plugin": True,
}
# User settings written into the throw-away settings directory ("package:plugin" -> values).
LAB_USER_SETTINGS = {
    # No toasts over the widgets, no asking about news.
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    # Never write the driven notebook back to disk (the served root may be the repository).
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    # Every cell stays in the DOM and is laid out, so locators find widgets far down the notebook.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}

WIDGET_SELECTOR = ".jupyter-widgets, .widget-toggle-buttons, .widget-slider, .widget-button, .widget-output"


# --------------------------------------------------------------------------------------------------------------
# Environment checks
# --------------------------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Path of the Chromium executable to drive ($CHROMIUM_PATH, else /usr/bin/chromium), or None."""
    candidate = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def browser_skip_reason() -> str | None:
    """Why the browser tests cannot run here (missing Playwright or Chromium), or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright is not installed (pip install -e '.[dev]'); for the browser: {INSTALL_HINT}"
    if find_chromium() is None:
        where = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
        return f"no Chromium at {where}: {INSTALL_HINT}"
    return None


def chromium_launch_args(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for `BrowserType.launch` that start the system Chromium headless and quiet."""
    args = list(CHROMIUM_ARGS)
    if headless:
        args.insert(0, "--headless")
    return {"executable_path": find_chromium(), "headless": headless, "args": args}


# --------------------------------------------------------------------------------------------------------------
# The JupyterLab server
# --------------------------------------------------------------------------------------------------------------


class LabError(RuntimeError):
    """JupyterLab did not start, or the page did not reach the state a helper waited for."""


@dataclass
class LabServer:
    """A running `jupyter lab`: where it listens, its token, what it serves and where its log goes."""

    base_url: str
    token: str
    root_dir: Path
    work_dir: Path
    log_path: Path
    process: subprocess.Popen

    def url(self, path: str = "lab", **query: str) -> str:
        """Absolute URL of `path` (relative to the server's base URL) with the token in the query string."""
        params = {**query, "token": self.token}
        return f"{self.base_url}{path.lstrip('/')}?{urllib.parse.urlencode(params)}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        """Call the server's REST API (`path` like "api/sessions") and return the decoded JSON, or None."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def log_tail(self, max_chars: int = 20_000) -> str:
        """The last `max_chars` characters of the server's stdout/stderr log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no server log at {self.log_path}: {error})"
        return text[-max_chars:]

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel on the server, so the next notebook opened gets a fresh kernel."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            for session in self.api("GET", "api/sessions"):
                with contextlib.suppress(OSError, urllib.error.URLError):
                    self.api("DELETE", f"api/sessions/{session['id']}")
            for kernel in self.api("GET", "api/kernels"):
                with contextlib.suppress(OSError, urllib.error.URLError):
                    self.api("DELETE", f"api/kernels/{kernel['id']}")


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path`, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _prepare_lab_dirs(work_dir: Path) -> dict[str, Path]:
    """Create the throw-away Jupyter directories under `work_dir` and write the lab configuration into them."""
    names = ("config", "data", "runtime", "settings", "workspaces", "ipython", "checkpoints")
    dirs = {name: work_dir / name for name in names}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    _write_json(dirs["config"] / "labconfig" / "page_config.json", {"disabledExtensions": DISABLED_LAB_EXTENSIONS})
    for plugin, values in LAB_USER_SETTINGS.items():
        package, name = plugin.split(":")
        _write_json(dirs["settings"] / package / f"{name}.jupyterlab-settings", values)
    return dirs


def _lab_environment(dirs: dict[str, Path]) -> dict[str, str]:
    """The server's environment: ours, with the Jupyter directories redirected and the inline plot backend."""
    env = dict(os.environ)
    # tests/conftest.py sets MPLBACKEND=Agg for the unit tests; the kernel must pick the inline backend itself.
    for name in ("MPLBACKEND", "JUPYTER_TOKEN", "JUPYTER_PORT", "JUPYTER_PREFER_ENV_PATH"):
        env.pop(name, None)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PYTHONUNBUFFERED="1",
    )
    return env


def _lab_command(root_dir: Path, dirs: dict[str, Path], port: int, token: str) -> list[str]:
    """The `python -m jupyterlab` command line: headless, loopback only, no update or news checks."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=20",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False",
        f"--IdentityProvider.token={token}",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
        # Checkpoints go to the scratch dir, not into .ipynb_checkpoints/ next to the (repository's) notebooks.
        f"--FileCheckpoints.checkpoint_dir={dirs['checkpoints']}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]


def start_jupyter_lab(root_dir: str | Path, work_dir: str | Path, timeout: float = LAB_START_TIMEOUT) -> LabServer:
    """Start `jupyter lab` serving `root_dir` (scratch dirs and log in `work_dir`); return once /api/status answers."""
    root_dir, work_dir = Path(root_dir).resolve(), Path(work_dir).resolve()
    if not root_dir.is_dir():
        raise LabError(f"cannot serve {root_dir}: not a directory")
    dirs = _prepare_lab_dirs(work_dir)
    log_path = work_dir / "jupyterlab.log"
    token = secrets.token_hex(24)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            _lab_command(root_dir, dirs, _free_port(), token),
            cwd=root_dir,
            env=_lab_environment(dirs),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",
        )
    server = LabServer("", token, root_dir, work_dir, log_path, process)
    try:
        server.base_url = _wait_for_server(server, dirs["runtime"], timeout)
    except BaseException:
        stop_jupyter_lab(server)
        raise
    return server


def _wait_for_server(server: LabServer, runtime_dir: Path, timeout: float) -> str:
    """Poll the server's runtime file, then GET /api/status, until it answers; return its base URL."""
    info_file = runtime_dir / f"jpserver-{server.process.pid}.json"
    deadline = time.monotonic() + timeout
    base_url, last_error = "", "no runtime file yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise LabError(
                f"jupyter lab exited with code {server.process.returncode} before answering.\n"
                f"--- server log {server.log_path} ---\n{server.log_tail()}"
            )
        if not base_url and info_file.exists():
            with contextlib.suppress(OSError, ValueError, KeyError):
                info = json.loads(info_file.read_text())
                base_url = f"http://127.0.0.1:{info['port']}{info.get('base_url', '/')}"
        if base_url:
            server.base_url = base_url
            try:
                server.api("GET", "api/status", timeout=5)
                return base_url
            except (OSError, urllib.error.URLError, ValueError) as error:
                last_error = repr(error)
        time.sleep(0.25)
    raise LabError(
        f"jupyter lab did not answer within {timeout:g} s ({last_error}).\n"
        f"--- server log {server.log_path} ---\n{server.log_tail()}"
    )


def _kernel_pids(runtime_dir: Path) -> list[int]:
    """PIDs of processes whose command line names a file in `runtime_dir` (this server's kernels)."""
    marker = str(runtime_dir).encode()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


def stop_jupyter_lab(server: LabServer, grace: float = 20.0) -> None:
    """Stop the server and its kernels: SIGTERM (it shuts its kernels down), then SIGKILL whatever is left."""
    process = server.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if os.name == "posix":
        # Kernels run in their own sessions; only processes started for this server's runtime dir are touched.
        for pid in _kernel_pids(server.work_dir / "runtime"):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def jupyter_lab(root_dir: str | Path, work_dir: str | Path, timeout: float = LAB_START_TIMEOUT) -> Iterator[LabServer]:
    """Context manager: a running JupyterLab serving `root_dir`, stopped on exit whatever happens."""
    server = start_jupyter_lab(root_dir, work_dir, timeout)
    try:
        yield server
    finally:
        stop_jupyter_lab(server)


# --------------------------------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------------------------------


def wait_until(probe: Callable[[], T], timeout: float, message: str | Callable[[], str], interval: float = 0.25) -> T:
    """Call `probe` until it returns something truthy and return that; raise LabError with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise LabError(f"timed out after {timeout:g} s: {text}")
        time.sleep(interval)


def _page_of(scope: Scope) -> Page:
    """The Page a Page or Locator belongs to."""
    return scope.page if hasattr(scope, "page") else scope


# --------------------------------------------------------------------------------------------------------------
# Notebooks: open, run, wait
# --------------------------------------------------------------------------------------------------------------


def notebook_panel(page: Page, path: str | None = None, timeout: float = UI_TIMEOUT) -> Locator:
    """The panel of the open notebook whose tab shows `path`, else of the current notebook tab."""
    find_id = """path => {
        const tabs = [...document.querySelectorAll('li.lm-TabBar-tab[data-type="document-title"]')];
        const tab = path === null
            ? tabs.find(t => t.classList.contains('jp-mod-current'))
            : tabs.find(t => (t.getAttribute('title') || '').split('\\n').includes('Path: ' + path));
        return tab ? tab.dataset.id : null;
    }"""
    panel_id = wait_until(lambda: page.evaluate(find_id, path), timeout, f"no open notebook tab for {path!r}")
    return page.locator(f'[id="{panel_id}"]')


def notebook_tab(panel: Locator) -> Locator:
    """The main-area tab of the notebook `panel`."""
    return panel.page.locator(f'li.lm-TabBar-tab[data-id="{panel.get_attribute("id")}"]')


def open_notebook(page: Page, server: LabServer, path: str, timeout: float = KERNEL_TIMEOUT) -> Locator:
    """Open `path` (relative to the served root) in a fresh workspace, wait for its kernel, return its panel."""
    path = Path(path).as_posix()
    if not (server.root_dir / path).is_file():
        raise LabError(f"{path} is not a file under the served root {server.root_dir}")
    quoted = urllib.parse.quote(path)
    page.goto(server.url(f"lab/tree/{quoted}", reset=""), timeout=timeout * 1000)
    page.locator("#jp-main-dock-panel").wait_for(timeout=timeout * 1000)
    panel = notebook_panel(page, path)
    panel.locator(".jp-Notebook").wait_for(timeout=timeout * 1000)
    wait_for_kernel_idle(page, panel, timeout)
    return panel


def kernel_status(panel: Locator) -> str | None:
    """The kernel status the notebook toolbar shows ("idle", "busy", "starting", ...), or None if not shown."""
    indicator = panel.locator(".jp-Notebook-ExecutionIndicator").first
    return indicator.get_attribute("data-status") if indicator.count() else None


def wait_for_kernel_idle(page: Page, panel: Locator | None = None, timeout: float = KERNEL_TIMEOUT) -> None:
    """Wait until the notebook's kernel is idle and no cell is queued or running (no `[*]` prompt)."""
    panel = panel if panel is not None else notebook_panel(page)

    def idle() -> bool:
        status = kernel_status(panel)
        if status == "dead":
            raise LabError("the notebook's kernel died (see the jupyter lab log)")
        if status != "idle":
            return False
        return not any("*" in text for text in panel.locator(".jp-InputArea-prompt").all_inner_texts())

    wait_until(idle, timeout, lambda: f"kernel still {kernel_status(panel)!r}; a cell may be stuck or the kernel dead")


def run_menu_command(page: Page, menu: str, command: str) -> None:
    """Click main-menu `menu` (e.g. "Run"), then the item bound to JupyterLab command id `command`."""
    page.keyboard.press("Escape")  # close any menu left open
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel").filter(has_text=re.compile(rf"^{re.escape(menu)}$")).click()
    item = page.locator(f'.lm-Menu .lm-Menu-item[data-command="{command}"]').first
    item.click(timeout=UI_TIMEOUT * 1000)


# IPython tracebacks (JupyterLab renders them as stderr): the classic header, or "Cell In[3], line 1" (SyntaxError).
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*Cell In\[\d+\], line \d+", re.M)


def _cell_states(panel: Locator) -> list[dict[str, Any]]:
    """For each code cell: its prompt text, whether it has source, and the texts of its stderr outputs."""
    states = panel.evaluate(
        """panel => [...panel.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(cell => ({
            prompt: (cell.querySelector('.jp-InputArea-prompt')?.textContent || '').trim(),
            hasSource: (cell.querySelector('.jp-InputArea-editor .cm-content')?.textContent || '').trim() !== '',
            stderr: [...cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(e => e.innerText),
        }))"""
    )
    for state in states:
        state["ran"] = bool(re.search(r"\d", state["prompt"]))
        state["error"] = "\n".join(text for text in state["stderr"] if TRACEBACK.search(text))
    return states


def cell_errors(panel: Locator) -> list[str]:
    """The traceback texts shown in the notebook's code cells (empty when no cell raised)."""
    return [state["error"] for state in _cell_states(panel) if state["error"]]


def _stopped_after(states: list[dict[str, Any]]) -> int | None:
    """Index of the last cell that ran when a later cell with source never ran (Run All stopped), else None."""
    ran = [i for i, state in enumerate(states) if state["ran"]]
    if ran and any(state["hasSource"] and not state["ran"] for state in states[ran[-1] + 1 :]):
        return ran[-1]
    return None


def run_all_cells(
    page: Page, panel: Locator | None = None, timeout: float = RUN_ALL_TIMEOUT, check_errors: bool = True
) -> None:
    """Clear all outputs, Run > Run All Cells, wait until every code cell ran; raise on a traceback if asked."""
    panel = panel if panel is not None else notebook_panel(page)
    wait_for_kernel_idle(page, panel)
    notebook_tab(panel).click()  # make this notebook the active widget, the one the menu commands act on
    run_menu_command(page, "Edit", "editmenu:clear-all")
    wait_until(lambda: not any(s["ran"] for s in _cell_states(panel)), UI_TIMEOUT, "outputs were not cleared")
    run_menu_command(page, "Run", "runmenu:run-all")

    def finished() -> bool:
        states = _cell_states(panel)
        status = kernel_status(panel)
        if status == "dead":
            raise LabError("the notebook's kernel died while running all cells (see the jupyter lab log)")
        if any("*" in s["prompt"] for s in states) or status != "idle":
            return False
        with_source = [s for s in states if s["hasSource"]]
        if not with_source:
            return True
        # Every cell ran; or Run All stopped at an error (JupyterLab leaves the later cells without a number).
        return any(s["ran"] for s in states) and (
            all(s["ran"] for s in with_source) or _stopped_after(states) is not None
        )

    wait_until(finished, timeout, lambda: f"not every cell ran; prompts: {[s['prompt'] for s in _cell_states(panel)]}")
    if not check_errors:
        return
    states = _cell_states(panel)
    errors = [s["error"] for s in states if s["error"]]
    stopped = _stopped_after(states)
    if errors or stopped is not None:
        detail = "\n---\n".join(errors) or "\n".join(states[stopped]["stderr"]) or "(no traceback shown)"
        where = f" (execution stopped after code cell {stopped})" if stopped is not None else ""
        raise LabError(f"a cell raised{where}:\n{detail}")


def code_cell(panel: Locator, index: int) -> Locator:
    """The `index`-th code cell (0-based, negative counts from the end) of the notebook."""
    cells = panel.locator(".jp-Notebook .jp-CodeCell")
    return cells.nth(index) if index >= 0 else cells.nth(cells.count() + index)


def cell_with_source(panel: Locator, snippet: str) -> Locator:
    """The first cell whose source text contains `snippet` (handy to find "the cell that builds the widgets")."""
    editors = panel.locator(".jp-Notebook .jp-Cell")
    return editors.filter(has=panel.page.locator(".jp-InputArea-editor", has_text=snippet)).first


# --------------------------------------------------------------------------------------------------------------
# Widgets (ipywidgets 8 DOM)
# --------------------------------------------------------------------------------------------------------------


def _exact(text: str) -> re.Pattern[str]:
    """A pattern matching exactly `text`, ignoring surrounding white space."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def _described(scope: Scope, css: str, description: str | None) -> Locator:
    """Widgets matching `css` under `scope`, narrowed to those whose description label reads `description`."""
    widgets = scope.locator(css)
    if description is None:
        return widgets
    label = _page_of(scope).locator("label.widget-label").filter(has_text=_exact(description))
    return widgets.filter(has=label)


def wait_for_widgets(scope: Scope, timeout: float = UI_TIMEOUT) -> None:
    """Wait until ipywidgets have rendered under `scope` and no output still says "Loading widget..."."""

    def rendered() -> bool:
        loading = scope.locator(".jp-OutputArea-output").filter(has_text="Loading widget").count()
        return loading == 0 and scope.locator(WIDGET_SELECTOR).count() > 0

    def why() -> str:
        texts = scope.locator('.jp-OutputArea-output[data-mime-type="text/plain"]').all_inner_texts()
        reprs = [t for t in texts if re.match(r"^\s*\w+\(", t)]
        hint = " (outputs show widget reprs: is the ipywidgets lab extension installed?)" if reprs else ""
        return f"no rendered widget{hint}; plain-text outputs: {texts[:5]}"

    wait_until(rendered, timeout, why)


def click_toggle_button(scope: Scope, label: str, description: str | None = None) -> None:
    """Click the toggle button labelled `label` (a ToggleButton, or an option of ToggleButtons `description`)."""
    if description is None:
        buttons = scope.locator("button.widget-toggle-button")
    else:
        buttons = _described(scope, ".widget-toggle-buttons", description).locator("button.widget-toggle-button")
    button = buttons.filter(has_text=_exact(label)).first
    button.click()
    if description is not None:  # a ToggleButtons option stays pressed once the model took it
        wait_until(
            lambda: "mod-active" in (button.get_attribute("class") or ""),
            UI_TIMEOUT,
            f"toggle {label!r} of {description!r} did not become active",
        )


def toggle_value(scope: Scope, description: str) -> str | None:
    """The label of the pressed option of ToggleButtons `description`, or None if none is pressed."""
    group = _described(scope, ".widget-toggle-buttons", description).first
    active = group.locator("button.widget-toggle-button.mod-active")
    return active.first.inner_text().strip() if active.count() else None


def slider(scope: Scope, description: str | None = None) -> Locator:
    """The IntSlider/FloatSlider (or range slider) whose description label reads `description` (else the first)."""
    return _described(scope, ".widget-slider", description).first


def slider_value(scope: Scope, description: str | None = None) -> str:
    """The slider's readout text as displayed (e.g. "1.50")."""
    return slider(scope, description).locator(".widget-readout").inner_text().strip()


def press_slider(scope: Scope, description: str | None = None, key: str = "ArrowRight", times: int = 1) -> str:
    """Focus the slider's handle and press `key` `times` times (one step each); return the new readout."""
    widget = slider(scope, description)
    before = slider_value(scope, description)
    handle = widget.locator(".noUi-handle").first
    handle.focus()
    for _ in range(times):
        handle.press(key)
    if times:
        wait_until(
            lambda: slider_value(scope, description) != before,
            UI_TIMEOUT,
            f"slider {description!r} still reads {before!r} after pressing {key}",
        )
    return slider_value(scope, description)


def set_slider(scope: Scope, value: float | int | str, description: str | None = None) -> str:
    """Type `value` into the slider's readout and press Enter; wait until the readout shows it; return the readout."""
    readout = slider(scope, description).locator(".widget-readout")
    readout.click()
    page = _page_of(scope)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")

    def shows_value() -> bool:
        shown = slider_value(scope, description)
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        try:
            return float(shown) == round(float(value), decimals)
        except ValueError:
            return False

    wait_until(
        shows_value,
        UI_TIMEOUT,
        lambda: f"slider {description!r} reads {slider_value(scope, description)!r}, wanted {value!r}",
    )
    return slider_value(scope, description)


def button(scope: Scope, description: str) -> Locator:
    """The ipywidgets Button whose text reads `description`."""
    return scope.locator("button.widget-button").filter(has_text=_exact(description)).first


def click_button(scope: Scope, description: str) -> None:
    """Click the ipywidgets Button whose text reads `description`."""
    button(scope, description).click()


# --------------------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------------------


def images(scope: Scope) -> Locator:
    """All rendered output images (PNG/JPEG/SVG-as-img) under `scope`, in document order."""
    return scope.locator(".jp-RenderedImage img")


def last_image_src(scope: Scope) -> str | None:
    """The `src` of the last rendered output image under `scope` (a data: URL for inline plots), or None."""
    found = images(scope)
    count = found.count()
    return found.nth(count - 1).get_attribute("src") if count else None


def image_bytes(src: str) -> bytes:
    """The bytes of an image given its data: URL `src` (what inline matplotlib figures use)."""
    match = re.match(r"^data:[^;,]+(;base64)?,(.*)$", src, re.S)
    if not match:
        raise ValueError(f"not a data: URL: {src[:60]!r}")
    payload = match.group(2)
    return base64.b64decode(payload) if match.group(1) else urllib.parse.unquote_to_bytes(payload)


def wait_for_new_image(scope: Scope, previous_src: str | None, timeout: float = UI_TIMEOUT) -> str:
    """Wait until the last image under `scope` differs from `previous_src` (a new plot was drawn); return it."""
    return wait_until(
        lambda: (src := last_image_src(scope)) is not None and src != previous_src and src,
        timeout,
        "no new image appeared",
    )


def output_text(scope: Scope) -> str:
    """The text of all text outputs (stdout, stderr, text/plain, errors) under `scope`, joined by newlines."""
    return "\n".join(scope.locator(".jp-RenderedText").all_inner_texts())


def wait_for_output_text(scope: Scope, pattern: str | re.Pattern[str], timeout: float = UI_TIMEOUT) -> re.Match[str]:
    """Wait until the output text under `scope` matches the regex `pattern`; return the match."""
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    return wait_until(
        lambda: regex.search(output_text(scope)),
        timeout,
        lambda: f"output text never matched {regex.pattern!r}; it reads {output_text(scope)[-500:]!r}",
    )


def screenshot(scope: Scope, path: str | Path, full_page: bool = False) -> Path:
    """Save a PNG of the page (or just the element `scope` is a Locator for) to `path`; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(scope, "page"):
        scope.screenshot(path=str(path))
    else:
        scope.screenshot(path=str(path), full_page=full_page)
    return path
