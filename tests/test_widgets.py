"""widgets.py: the panel and the scrubber, driven as a learner would (their callbacks are plain methods)."""

import pytest
from conftest import ORIGINAL, tiny_config

from mae_helpers import MAE, get_config
from mae_helpers.widgets import StrengthScrubber, UnlearningPanel, digit_toggles


@pytest.fixture(scope="module")
def panel(trained_mae):
    # The original of tests/test_unlearn.py (cached once): a blurry one has no evidence to remove.
    cfg = get_config(**ORIGINAL, unlearn_max_steps=30, retain_batch=64, q_fit_steps=20, witness_images=256)
    return UnlearningPanel(trained_mae, cfg)


def test_toggles_start_with_the_configured_digits_pressed():
    toggles = digit_toggles((0, 3))
    assert [t.description for t in toggles] == [str(d) for d in range(10)]
    assert [d for d, t in enumerate(toggles) if t.value] == [0, 3]


def test_panel_run_follows_the_widget_values(panel):
    for d, toggle in enumerate(panel.toggles):
        toggle.value = d == 5
    panel.strength.value = 0.0
    calm = panel.run()
    assert calm.forget_digits == (5,) and calm.strength == 0.0
    panel.strength.value = 3.0
    strong = panel.run()
    assert strong.strength == 3.0 and len(panel.results) == 2
    assert strong.mse_forget["after"] > calm.mse_forget["after"]
    assert strong.mse_forget["before"] == calm.mse_forget["before"]
    assert "forget [5] at strength 3" in strong.summary()


def test_button_click_draws_into_the_output_and_reports_bad_selections(panel):
    for toggle in panel.toggles:
        toggle.value = False
    panel.button.click()
    assert "empty" in panel.status.value and not panel.button.disabled
    panel.toggles[2].value = True
    panel.strength.value = 0.0  # the click's whole path, without the loop's seconds (test_panel_run_... has those)
    panel.button.click()
    assert panel.status.value == "" and panel.results[-1].forget_digits == (2,)
    assert len(panel.output.outputs) == 2  # the figure and the numbers
    assert "MSE forgotten digits" in panel.output.outputs[1]["text"]


def test_scrubber_swaps_pictures_and_captions():
    scrubber = StrengthScrubber([0, 1, 2], [b"a", b"b", b"c"], ["zero", "one", "two"])
    scrubber.slider.value = 2
    assert scrubber.image.value == b"c" and scrubber.caption.value == "two"
    assert scrubber.show(1) == "one" and scrubber.image.value == b"b"
    with pytest.raises(ValueError, match="same length"):
        StrengthScrubber([0, 1], [b"a"], ["x", "y"])


def test_the_panel_shows_any_error_and_frees_its_button(monkeypatch):
    panel = UnlearningPanel(MAE(), tiny_config())

    def broken():
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(panel, "run", broken)
    panel.button.click()
    assert "RuntimeError: CUDA error" in panel.status.value and not panel.button.disabled
