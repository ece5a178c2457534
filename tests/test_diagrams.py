"""tools/diagrams.py: it draws the three teaching diagrams, and it stays a drawing tool (no mae_helpers)."""

import ast
import os
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "diagrams.py"
DIAGRAMS = ("diagram_mae.png", "diagram_game.png", "diagram_controller.png")

# Run the script as `make diagrams` does, then report every top-level package it imported.
RUN = """
import runpy, sys
sys.argv = ["diagrams.py", "--out", sys.argv[1]]
try:
    runpy.run_path({script!r}, run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
print(" ".join(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, read from a PNG file's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_script_draws_the_three_diagrams_and_imports_nothing_from_mae_helpers(tmp_path):
    out = tmp_path / "images"
    done = subprocess.run([sys.executable, "-c", RUN.format(script=str(SCRIPT)), str(out)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    imported = done.stdout.split()
    assert "matplotlib" in imported and "mae_helpers" not in imported
    assert sorted(path.name for path in out.iterdir()) == sorted(DIAGRAMS)
    for name in DIAGRAMS:
        width, height = png_size(out / name)
        # Drawn 10 inches wide at 150 dpi, cropped to the drawing: about 1,500 px wide, never a thumbnail.
        assert 1200 <= width <= 1800 and 600 <= height <= 2400, (name, width, height)
        assert (out / name).stat().st_size > 30_000, name  # a real drawing, not an empty canvas


def test_the_script_names_no_mae_helpers_module():
    """No `import mae_helpers` or `from mae_helpers ...` anywhere in it, not even inside a function."""
    tree = ast.parse(SCRIPT.read_text())
    for node in ast.walk(tree):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        assert not any(name.split(".")[0] == "mae_helpers" for name in names), ast.unparse(node)
    assert "importlib" not in SCRIPT.read_text()
