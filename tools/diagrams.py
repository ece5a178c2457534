"""Draw the course's three teaching diagrams with matplotlib: boxes, arrows and text, nothing else.

    python tools/diagrams.py                # writes images/diagram_mae.png, diagram_game.png, diagram_controller.png
    python tools/diagrams.py --out FOLDER   # the same three files into FOLDER

`make diagrams` runs it, and `make images` (every figure the README shows) runs `make diagrams` first.

- diagram_mae.png: the Modified Autoencoder, left to right, with the size of every code and the
  three Q-layers reading the codes `encoded`, `bottleneck` and `decoder_input`;
- diagram_game.png: one unlearning step, the two-move game: the readers learn (move 1), then the
  autoencoder unlearns against the frozen readers (move 2), and which network each gradient trains;
- diagram_controller.png: the loop that controls the push: a gentle start, a check every few steps
  by the witness and the guard, revert or adjust, stop, return the kept weights.

A drawing tool only: it imports nothing from mae_helpers (the sizes and defaults in the pictures are
written here, from mae_helpers/model.py and config.py). Every coordinate is in inches on a figure of
fixed size, so the same matplotlib draws the same bytes each time.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

# The stop rule of the unlearning loop, as the controller diagram words it. Still being finalised:
# change the wording here, in this one place, then run `make diagrams`. Any number of lines, each
# under ~45 characters (the decision box grows with the lines, not with their length).
STOP_RULE = "evidence at most the target\n(3% / strength) at 2 checks in a row"
CHECK_EVERY, BUDGET = 10, 300  # config.py's check_every and unlearn_max_steps (normal mode)

DIAGRAMS = ("diagram_mae.png", "diagram_game.png", "diagram_controller.png")

# The Okabe-Ito palette: told apart by colour-blind readers too. Shapes and words carry the meaning as well.
BLUE, ORANGE, SKY, GREEN, VERMILLION, PURPLE = "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7"
INK, GREY = "#222222", "#6B6B6B"

# GitHub shows a README image at most ~800 px wide. A figure 10 inches wide, saved at 150 dpi (1,500 px),
# is shrunk to ~0.53 of its size there, so 11 pt text reads as ~9 pt: nothing here is smaller than SMALL.
DPI = 150
SMALL, BODY, HEAD, TITLE = 11, 12, 13.5, 15
RC = {"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "font.size": BODY, "text.color": INK,
      "figure.facecolor": "white", "savefig.facecolor": "white"}


# ----------------------------------------------------------------------------- shared look


def tint(color: str, amount: float) -> tuple[float, float, float]:
    """`color` mixed with white: 0 is white, 1 the colour itself."""
    return tuple(1 - amount * (1 - c) for c in to_rgb(color))


def shade(color: str, amount: float) -> tuple[float, float, float]:
    """`color` mixed with black: 0 is the colour itself (darker shades for text on white)."""
    return tuple(c * (1 - amount) for c in to_rgb(color))


@dataclass(frozen=True)
class Box:
    """A drawn box's centre and size (inches), with the points where arrows meet it."""

    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> tuple[float, float]:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    @property
    def top(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x, self.y - self.h / 2)

    def at(self, side: str, offset: float) -> tuple[float, float]:
        """A point on one side, `offset` inches from that side's middle (right/up positive)."""
        x, y = getattr(self, side)
        return (x + offset, y) if side in ("top", "bottom") else (x, y + offset)


def canvas(width: float, height: float, bottom: float = 0.0):
    """A white figure of fixed size whose data coordinates are inches; y runs from `bottom` to `bottom + height`."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(bottom, bottom + height)
    ax.set_axis_off()
    return fig, ax


def box(ax, x: float, y: float, w: float, h: float, text: str = "", *, color: str = BLUE, fill: float = 0.15,
        edge: float = 1.0, dashed: bool = False, size: float = BODY, weight: str = "normal", round_: float = 0.08,
        text_color=INK, lw: float = 1.4, z: float = 2, **text_kw) -> Box:
    """A rounded box centred at (x, y), filled with a tint of `color`, with centred text."""
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={round_}",
                           facecolor=tint(color, fill), edgecolor=tint(color, edge), linewidth=lw,
                           linestyle=(0, (4, 2.5)) if dashed else "solid", zorder=z)
    ax.add_patch(patch)
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=size, fontweight=weight, color=text_color,
                linespacing=1.3, zorder=z + 0.5, **text_kw)
    return Box(x, y, w, h)


def titled_box(ax, x: float, y: float, w: float, h: float, title: str, body: str, *, color: str = BLUE,
               fill: float = 0.15, size: float = SMALL, **box_kw) -> Box:
    """A box with a bold title line at its top and `body` centred in the rest."""
    drawn = box(ax, x, y, w, h, color=color, fill=fill, **box_kw)
    top = y + h / 2 - 0.24
    ax.text(x, top, title, ha="center", va="center", fontsize=BODY, fontweight="bold", color=shade(color, 0.35),
            zorder=3)
    ax.text(x, (top - 0.12 + y - h / 2) / 2, body, ha="center", va="center", fontsize=size, linespacing=1.3,
            zorder=3)
    return drawn


def hexagon(ax, x: float, y: float, w: float, h: float, text: str, *, color: str = GREY, fill: float = 0.12,
            size: float = BODY) -> Box:
    """A decision: a box with pointed ends, centred at (x, y), holding a question."""
    tip = min(0.3, h / 2)
    corners = [(x - w / 2, y), (x - w / 2 + tip, y + h / 2), (x + w / 2 - tip, y + h / 2), (x + w / 2, y),
               (x + w / 2 - tip, y - h / 2), (x - w / 2 + tip, y - h / 2)]
    ax.add_patch(Polygon(corners, closed=True, facecolor=tint(color, fill), edgecolor=color, linewidth=1.4,
                         zorder=2))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, linespacing=1.3, zorder=2.5)
    return Box(x, y, w, h)


def arrow(ax, start, end, *, color: str = GREY, dashed: bool = False, lw: float = 1.6, bend: float = 0.0,
          head: float = 14, z: float = 3) -> None:
    """An arrow from `start` to `end` (a straight line, or an arc when `bend` is not 0)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=head, color=color, linewidth=lw,
                                 linestyle=(0, (4, 2.5)) if dashed else "solid", shrinkA=0, shrinkB=0,
                                 connectionstyle=f"arc3,rad={bend}", zorder=z))


def route(ax, points, *, color: str = GREY, dashed: bool = False, lw: float = 1.6, head: float = 14) -> None:
    """An arrow along a polyline through `points`, with its head at the last one."""
    path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1))
    ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=head, color=color, linewidth=lw,
                                 linestyle=(0, (4, 2.5)) if dashed else "solid", zorder=3))


def label(ax, x: float, y: float, text: str, *, size: float = SMALL, color=INK, ha: str = "center",
          va: str = "center", bg="white", **kw) -> None:
    """Free text at (x, y), on a background of its own (white by default) so that no line runs through it."""
    ax.text(x, y, text, fontsize=size, color=color, ha=ha, va=va, linespacing=1.3, zorder=4,
            bbox=dict(facecolor=bg, edgecolor="none", pad=2.0), **kw)


def digit(ax, x: float, y: float, side: float, *, soft: bool = False) -> Box:
    """A stand-in for an MNIST image: a light 7 on a dark square (softer for a reconstruction)."""
    ax.add_patch(FancyBboxPatch((x - side / 2, y - side / 2), side, side, boxstyle="square,pad=0",
                                facecolor="#1B1B1B", edgecolor=INK, linewidth=1.2, zorder=2))
    ax.text(x, y - 0.02, "7", ha="center", va="center", fontsize=side * 44, fontweight="bold",
            color="#D8D8D8" if soft else "white", alpha=0.85 if soft else 1.0, zorder=2.5)
    return Box(x, y, side, side)


def save(fig, path: Path) -> None:
    """Write `fig` as a PNG, cropped to its drawing, with no metadata that changes between versions."""
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.12, metadata={"Software": None})
    plt.close(fig)


# ----------------------------------------------------------------------------- 1. the MAE


def draw_mae(path: Path) -> None:
    """The MAE left to right: encoder, dense, un-dense, decoder; sizes below; three Q-layers on the codes."""
    fig, ax = canvas(10, 5.9, bottom=-0.6)
    ax.text(0.05, 5.15, "The Modified Autoencoder (MAE) and its three Q-layers", fontsize=TITLE, fontweight="bold",
            va="center")
    ax.text(0.05, 4.8, "blue: the autoencoder, which learns to redraw the digit;  orange: the Q-layers, "
            "which look for the digit's evidence in a code", fontsize=SMALL, color=GREY, va="center")

    # (kind, height, size under it, code name or ""), left to right; heights follow the hourglass.
    layers = [("image", 0.8, "1×28×28", "digit $x$"),
              ("map", 1.5, "28×12×12", ""), ("map", 1.0, "56×4×4", ""), ("code", 0.8, "112", "encoded"),
              ("vec", 0.55, "56", ""), ("code", 0.32, "10", "bottleneck"),
              ("vec", 0.55, "56", ""), ("code", 0.8, "112", "decoder_input"),
              ("map", 1.0, "56×4×4", ""), ("map", 1.5, "28×12×12", ""), ("image", 0.8, "1×28×28", "drawing")]
    bar, gap, y = 0.34, 0.52, 2.35
    widths = [h if kind == "image" else bar for kind, h, *_ in layers]
    x = 5.0 - (sum(widths) + gap * (len(layers) - 1)) / 2
    boxes = []
    for (kind, h, size, name), w in zip(layers, widths):
        cx = x + w / 2
        if kind == "image":
            boxes.append(digit(ax, cx, y, h, soft=name == "drawing"))
        else:
            boxes.append(box(ax, cx, y, w, h, color=BLUE, fill=0.85 if kind == "code" else 0.2,
                             round_=0.04))
        label(ax, cx, 1.3, size, size=SMALL)
        if name:
            label(ax, cx, 1.02, name, size=SMALL, family="DejaVu Sans Mono" if kind == "code" else None,
                  color=shade(BLUE, 0.2) if kind == "code" else INK)
        x += w + gap
    for a, b in zip(boxes, boxes[1:]):
        arrow(ax, (a.right[0] + 0.05, y), (b.left[0] - 0.05, y), color=GREY, lw=1.4, head=11)

    # The four parts, bracketed below the sizes, with what each layer does.
    parts = [(1, 3, "encoder", "3 convolutions, stride 2\nkernels 5, 5, 3"),
             (4, 5, "dense", "112 → 56 → 10"),
             (6, 7, "un-dense", "10 → 56 → 112"),
             (8, 10, "decoder", "3 transposed convolutions\nkernels 4, 6, 6\n"
                                "GroupNorm on the hidden two\ntanh out: values in [−1, 1]")]
    for first, last, name, detail in parts:
        x0, x1 = boxes[first].left[0] - 0.05, boxes[last].right[0] + 0.05
        ax.plot([x0, x0, x1, x1], [0.78, 0.7, 0.7, 0.78], color=GREY, lw=1.2)
        ax.text((x0 + x1) / 2, 0.55, name, ha="center", va="center", fontsize=BODY, fontweight="bold")
        ax.text((x0 + x1) / 2, 0.35, detail, ha="center", va="top", fontsize=SMALL, color=GREY, linespacing=1.3)

    # The three Q-layers above the codes they read, each guessing the digit.
    beliefs = ([0.04, 0.02, 0.03, 0.06, 0.05, 0.04, 0.02, 0.62, 0.04, 0.08],
               [0.03, 0.05, 0.04, 0.05, 0.04, 0.03, 0.03, 0.55, 0.06, 0.12],
               [0.05, 0.03, 0.06, 0.04, 0.07, 0.03, 0.02, 0.58, 0.05, 0.07])
    for i, (code, width, belief) in enumerate(zip((3, 5, 7), (112, 10, 112), beliefs), 1):
        cx = boxes[code].x
        q = box(ax, cx, 3.55, 1.5, 0.58, f"Q-layer {i}\nLinear({width}, 10)", color=ORANGE, fill=0.25,
                size=SMALL)
        arrow(ax, boxes[code].top, q.bottom, color=shade(ORANGE, 0.1), lw=1.6, head=12)
        # A tiny bar chart of its belief P(digit): the 7 stands out while the evidence is there.
        x0, base = cx - 0.45, 3.98
        for d, p in enumerate(belief):
            ax.add_patch(FancyBboxPatch((x0 + d * 0.09, base), 0.07, 0.45 * p / 0.62, boxstyle="square,pad=0",
                                        facecolor=ORANGE if d == 7 else tint(ORANGE, 0.45), edgecolor="none"))
        ax.text(cx + 0.52, base + 0.05, "P(digit)", fontsize=SMALL, color=GREY, va="bottom", ha="left")
    save(fig, path)


# ----------------------------------------------------------------------------- 2. the game


def draw_game(path: Path) -> None:
    """One unlearning step: a shared forward pass, move 1 (readers learn), move 2 (the autoencoder unlearns)."""
    learn, unlearn = shade(ORANGE, 0.35), BLUE
    fig, ax = canvas(10, 8)
    ax.text(0.05, 7.85, "One unlearning step: a game of two moves", fontsize=TITLE, fontweight="bold", va="center")
    ax.text(0.05, 7.5, "on one batch of forget digits $x_f$ and one batch of retained digits $x_r$", fontsize=BODY,
            color=GREY, va="center")

    # The student and its one forward pass over both batches; the frozen drawings it is compared with.
    xf = box(ax, 1.0, 6.35, 1.9, 0.7, "$x_f$  forget digits", color=VERMILLION, fill=0.15, size=SMALL)
    xr = box(ax, 1.0, 5.45, 1.9, 0.7, "$x_r$  retained digits", color=GREEN, fill=0.15, size=SMALL)
    student = box(ax, 2.95, 4.35, 1.3, 5.4, "the\nautoencoder,\na copy of\nthe original\n\n"
                  "one forward\npass over\nboth batches", color=BLUE, fill=0.15, size=SMALL)
    ax.text(student.x, student.y + 1.25, "student", fontsize=HEAD, fontweight="bold", color=BLUE, ha="center",
            va="center", zorder=3)
    for x in (xf, xr):
        arrow(ax, x.right, (student.left[0], x.y))
    lookup = box(ax, 1.0, 2.3, 1.9, 3.0, "looked up, frozen\n\norig($x_r$): the\noriginal's drawing\n\n"
                 "aux($x_f$): the\nauxiliary network's\ndrawing\n\neach image drawn\nonce, not per step",
                 color=GREY, fill=0.07, dashed=True, size=SMALL)
    arrow(ax, xr.bottom, lookup.top, lw=1.4)
    arrow(ax, lookup.at("right", -1.2), (4.4, lookup.y - 1.2))

    # Move 1: the readers learn to name the digit, on the drawings and codes cut from the graph.
    box(ax, 7.175, 5.825, 5.55, 2.65, color=ORANGE, fill=0.07, round_=0.12, z=1)
    ax.text(4.6, 6.85, "①  LEARN", fontsize=HEAD, fontweight="bold", color=learn, va="center")
    ax.text(6.05, 6.85, "the readers learn to name the digit", fontsize=BODY, va="center")
    group = box(ax, 5.7, 5.75, 2.1, 1.55, color=ORANGE, fill=0.1, edge=0.6, round_=0.1)
    qlayers = box(ax, 5.7, 6.1, 1.8, 0.55, "3 Q-layers", color=ORANGE, fill=0.35, size=SMALL)
    picture = box(ax, 5.7, 5.38, 1.8, 0.7, "picture reader\n2 small CNNs", color=ORANGE, fill=0.35, size=SMALL)
    name = box(ax, 8.8, 5.75, 1.9, 0.95, "cross-entropy\nwith the true\ndigit", color=ORANGE, fill=0.12,
               size=SMALL)
    for reader, what in ((qlayers, "codes"), (picture, "drawings")):
        arrow(ax, (student.right[0], reader.y), reader.left)
        label(ax, 4.0, reader.y + 0.17, what, color=GREY)
        ax.text(4.0, reader.y, "✂", fontsize=BODY, color=learn, ha="center", va="center", zorder=5,
                bbox=dict(facecolor="white", edgecolor="none", pad=0.3))
        arrow(ax, reader.right, name.at("left", reader.y - name.y))
    route(ax, [name.bottom, (name.x, 4.72), (group.x, 4.72), group.bottom], color=learn, dashed=True, lw=1.8)
    label(ax, 7.25, 4.72, "gradient: one Adam step", color=learn, bg=tint(ORANGE, 0.07))

    # Move 2: the student unlearns; the readers are frozen.
    box(ax, 7.175, 2.425, 5.55, 3.65, color=BLUE, fill=0.06, round_=0.12, z=1)
    ax.text(4.6, 3.95, "②  UNLEARN", fontsize=HEAD, fontweight="bold", color=unlearn, va="center")
    ax.text(6.3, 3.95, "the autoencoder learns, readers frozen", fontsize=BODY, va="center")
    ax.text(4.6, 3.45, r"loss = keep + $w$ · (evidence + push)", fontsize=HEAD, va="center")
    ax.text(4.6, 3.12, "$w$: the forget weight, set by the controller", fontsize=SMALL, color=GREY, va="center")
    terms = [("keep", r"MSE($\mathrm{out}_r$, $x_r$) + λ·MSE($\mathrm{out}_r$, orig($x_r$))",
              ["redraw the retained digits, stay close to the original"]),
             ("evidence", r"−log P(likeliest retained digit | $\mathrm{out}_f$)",
              ["P: the frozen picture reader's belief", "redraw each forget digit as one clear other digit"]),
             ("push", r"exp(−$d$ / τ),  $d$ = MSE($\mathrm{out}_f$, aux($x_f$))",
              ["a bounded push away from the forget digit's look"])]
    ty = 2.7
    for term, formula, meaning in terms:
        ax.text(4.6, ty, term, fontsize=BODY, fontweight="bold", color=unlearn, va="center")
        ax.text(5.65, ty, formula, fontsize=SMALL, va="center")
        for line in meaning:
            ty -= 0.26
            ax.text(4.6, ty, line, fontsize=SMALL, color=GREY, style="italic", va="center")
        ty -= 0.42
    arrow(ax, (student.right[0], 2.6), (4.4, 2.6))
    label(ax, 4.0, 2.87, "drawings\n$\\mathrm{out}_f$, $\\mathrm{out}_r$", color=GREY)
    arrow(ax, (4.4, 3.45), (student.right[0], 3.45), color=unlearn, dashed=True, lw=1.8)
    label(ax, 4.0, 3.62, "gradient", color=unlearn)

    # How to read the arrows.
    route(ax, [(0.1, 0.2), (0.6, 0.2)])
    ax.text(0.7, 0.2, "data", fontsize=SMALL, va="center")
    route(ax, [(1.5, 0.2), (2.0, 0.2)], dashed=True)
    ax.text(2.1, 0.2, "gradient: the network it points to takes one Adam step", fontsize=SMALL, va="center")
    ax.text(6.6, 0.2, "✂  cut from the graph: no gradient back", fontsize=SMALL, va="center")
    save(fig, path)


# ----------------------------------------------------------------------------- 3. the controller


def draw_controller(path: Path) -> None:
    """The loop that controls the push, as a flowchart: gentle start, steps, checks, revert or adjust, stop."""
    stop_text = f"stop?\n{STOP_RULE}\nor the budget ({BUDGET} steps) is spent"
    stop_h = 0.45 + 0.24 * stop_text.count("\n")  # the stop rule may take more lines or fewer
    fig, ax = canvas(10, 11.05 + stop_h, bottom=-0.4 - stop_h)
    ax.text(0.05, 10.45, "The loop that controls the push", fontsize=TITLE, fontweight="bold", va="center")
    ax.text(0.05, 10.1, "start gentle, look every few steps, back off when the retained digits pay too much",
            fontsize=BODY, color=GREY, va="center")
    cx = 4.7

    start = titled_box(ax, cx, 9.25, 5.6, 0.85, "start gentle", "the learning rate ramps up from 0 over ramp_steps;"
                       " $w$ starts small", color=BLUE, fill=0.1)
    step = box(ax, cx, 8.2, 4.6, 0.55, "one step of the game (learn, then unlearn)", color=BLUE, fill=0.25)
    arrow(ax, start.bottom, step.top)
    check_step = hexagon(ax, cx, 7.2, 4.0, 0.8, f"a check step?\nevery check_every ({CHECK_EVERY}) steps")
    arrow(ax, step.bottom, check_step.top)
    route(ax, [check_step.left, (0.75, check_step.y), (0.75, step.y), step.left])
    label(ax, 1.3, check_step.y + 0.18, "no")

    # The check: two looks at held-out digits, by networks that take no part in the game.
    check = box(ax, cx, 5.47, 8.6, 2.0, color=SKY, fill=0.08, round_=0.12)
    ax.text(cx, 6.2, "CHECK on held-out digits", fontsize=HEAD, fontweight="bold", ha="center", va="center")
    titled_box(ax, cx - 2.12, 5.2, 4.05, 1.25, "witness", "2 CNNs that take no part in the game,\ntrained once "
               "per original, read the\nforget digits' drawings → evidence", color=SKY, fill=0.25)
    titled_box(ax, cx + 2.12, 5.2, 4.05, 1.25, "guard", "reads the retained digits' drawings:\ntheir MSE ÷ the "
               "original's MSE\n→ ratio", color=SKY, fill=0.25)
    arrow(ax, check_step.bottom, check.top)
    label(ax, cx + 0.25, (check_step.bottom[1] + check.top[1]) / 2, "yes")

    inside = hexagon(ax, cx, 3.8, 4.3, 0.8, "inside the guard?\nratio ≤ 1 + tolerance")
    arrow(ax, check.bottom, inside.top)
    revert = titled_box(ax, 2.0, 2.25, 3.7, 1.45, "REVERT", "to the last checked weights\ninside the guard; "
                        "fresh Adam,\n$w$ halved, a new ramp", color=VERMILLION, fill=0.12)
    adjust = titled_box(ax, 7.25, 2.25, 4.4, 1.45, "REMEMBER and ADJUST", "these weights: the point to revert to;"
                        "\nkeep the checked weights with the least evidence;\n$w$ × 1.5 while the ratio is in the "
                        "lower half\nof the tolerance, $w$ × 0.7 above 80% of it", color=GREEN, fill=0.12)
    route(ax, [inside.left, (revert.x, inside.y), revert.top])
    label(ax, revert.x, inside.y + 0.2, "no: outside")
    route(ax, [inside.right, (adjust.x, inside.y), adjust.top])
    label(ax, adjust.x, inside.y + 0.2, "yes: inside")

    stop = hexagon(ax, cx, 0.85 - stop_h / 2, 5.0, stop_h, stop_text)
    join = revert.bottom[1] - 0.3
    route(ax, [revert.bottom, (revert.x, join), (stop.x - 0.3, join), (stop.x - 0.3, stop.top[1])])
    route(ax, [adjust.bottom, (adjust.x, join), (stop.x + 0.3, join), (stop.x + 0.3, stop.top[1])])
    route(ax, [stop.right, (9.7, stop.y), (9.7, step.y), step.right])
    label(ax, 8.3, stop.y + 0.18, "no")
    done = box(ax, cx, stop.bottom[1] - 0.75, 3.6, 0.55, "return the kept weights", color=BLUE, fill=0.85,
               text_color="white", weight="bold")
    arrow(ax, stop.bottom, done.top)
    label(ax, cx + 0.3, (stop.bottom[1] + done.top[1]) / 2, "yes")
    save(fig, path)


# ----------------------------------------------------------------------------- the command


def main(argv: list[str] | None = None) -> int:
    """Draw the three diagrams into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("images"), help="folder for the PNG files (default: images)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(RC):
        for name, draw in zip(DIAGRAMS, (draw_mae, draw_game, draw_controller)):
            draw(args.out / name)
            print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
