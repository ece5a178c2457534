"""Interactive controls for the notebooks: pick digits to forget, set the strength, run, scrub.

The callbacks are plain methods (`UnlearningPanel.run`, `StrengthScrubber.show`) that
return their numbers, so tests can set widget values, call them and check the result
without a browser. Only ipywidgets features from 7.x are used: Colab still ships 7.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as W
import torch
from IPython.display import Image

from .config import FORGET_DIGITS_ORIGINAL, Config, get_config
from .data import loaders_for, split_digits
from .train import reconstruction_mse, train_auxiliary
from .unlearn import UnlearnHistory, unlearn
from .viz import compare_reconstructions


@dataclass
class PanelResult:
    """What one press of "Unlearn" produced."""

    forget_digits: tuple[int, ...]
    strength: float
    mse_forget: dict  # {"before": x, "after": y} on held-out test digits
    mse_retain: dict
    model: torch.nn.Module = field(repr=False)
    figure: object = field(repr=False)
    history: UnlearnHistory | None = field(default=None, repr=False)  # why and when the loop stopped

    def summary(self) -> str:
        """One line per group: test MSE before -> after."""
        return (f"forget {list(self.forget_digits)} at strength {self.strength:g}\n"
                f"  MSE forgotten digits: {self.mse_forget['before']:.4f} -> {self.mse_forget['after']:.4f}\n"
                f"  MSE retained digits:  {self.mse_retain['before']:.4f} -> {self.mse_retain['after']:.4f}"
                + (f"\n  {self.history.steps} steps; {self.history.stopped}" if self.history else ""))


def digit_toggles(selected=FORGET_DIGITS_ORIGINAL) -> list[W.ToggleButton]:
    """Ten toggle buttons, one per digit; `selected` start pressed."""
    return [W.ToggleButton(value=d in selected, description=str(d), tooltip=f"forget digit {d}",
                           layout=W.Layout(width="42px")) for d in range(10)]


class UnlearningPanel:
    """Toggle buttons for the forget digits, a strength slider and a button that unlearns and redraws."""

    def __init__(self, original: torch.nn.Module, cfg: Config | None = None, device=None,
                 method: str | Callable = "evidence"):
        cfg = get_config() if cfg is None else cfg
        self.original, self.cfg, self.device, self.method = original, cfg, device, method
        self.toggles = digit_toggles(cfg.forget_digits)
        self.strength = W.FloatSlider(value=cfg.strength, min=0.0, max=4.0, step=0.25, description="strength",
                                      continuous_update=False)
        self.button = W.Button(description="Unlearn", button_style="primary", icon="eraser")
        self.status = W.HTML(value="")
        self.output = W.Output()
        self.button.on_click(self._on_click)
        self.results: list[PanelResult] = []

    @property
    def forget_digits(self) -> tuple[int, ...]:
        """The digits whose toggle is pressed."""
        return tuple(d for d, t in enumerate(self.toggles) if t.value)

    def run(self) -> PanelResult:
        """Unlearn the selected digits at the selected strength; returns numbers and the figure."""
        forget, retain = split_digits(self.forget_digits)  # a clear ValueError for none or all ten
        cfg, device = self.cfg.replace(forget_digits=forget, strength=self.strength.value), self.device
        aux, _ = train_auxiliary(forget, cfg, device=device, progress=False, original=self.original)
        model, history = unlearn(self.original, aux, cfg, method=self.method, device=device, progress=False)
        f, r = loaders_for(cfg, forget, device), loaders_for(cfg, retain, device)
        figure = compare_reconstructions({"before": self.original, "after": model}, loaders_for(cfg, None, device).test,
                                         device=device, title=f"forgetting {list(forget)}, strength "
                                                               f"{self.strength.value:g}")

        def before_after(loader):
            return {"before": reconstruction_mse(self.original, loader, device),
                    "after": reconstruction_mse(model, loader, device)}

        result = PanelResult(forget, float(self.strength.value), before_after(f.test), before_after(r.test), model,
                             figure, history)
        self.results.append(result)
        return result

    def _on_click(self, _button=None) -> None:
        """Button callback: run, then show the figure and the numbers in the output area."""
        import matplotlib.pyplot as plt

        self.button.disabled, self.status.value = True, "<i>unlearning…</i>"
        try:
            result = self.run()
        except Exception as err:  # any error, not only a bad selection: a callback's traceback would go unseen
            text = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
            self.status.value = f"<b style='color:#b00'>{html.escape(text)}</b>"
            return
        finally:
            self.button.disabled = False
        self.status.value = ""
        # append_* rather than `with self.output:` so it works outside a kernel too (tests)
        self.output.outputs = ()
        self.output.append_display_data(Image(data=figure_png(result.figure), format="png"))
        self.output.append_stdout(result.summary() + "\n")
        plt.close(result.figure)

    def widget(self) -> W.VBox:
        """The whole panel, ready to display."""
        return W.VBox([W.HBox([W.Label("forget:")] + self.toggles), W.HBox([self.strength, self.button]),
                       self.status, self.output])


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes (for an Image widget: instant to swap)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


class StrengthScrubber:
    """A slider over precomputed strengths that swaps in each one's picture instantly."""

    def __init__(self, strengths: list[float], pictures: list[bytes], captions: list[str]):
        if not (len(strengths) == len(pictures) == len(captions) > 0):
            raise ValueError("strengths, pictures and captions must be non-empty lists of the same length")
        self.strengths, self.pictures, self.captions = list(strengths), list(pictures), list(captions)
        self.slider = W.SelectionSlider(options=[(f"{s:g}", i) for i, s in enumerate(self.strengths)], value=0,
                                        description="strength", continuous_update=True)
        self.image = W.Image(value=self.pictures[0], format="png")
        self.caption = W.HTML(value=self.captions[0])
        self.slider.observe(lambda change: self.show(change["new"]), names="value")

    def show(self, index: int) -> str:
        """Display the precomputed picture number `index`; returns its caption."""
        self.image.value = self.pictures[index]
        self.caption.value = self.captions[index]
        return self.captions[index]

    def widget(self) -> W.VBox:
        """Slider, caption and picture."""
        return W.VBox([self.slider, self.caption, self.image])
