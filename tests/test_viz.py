"""viz.py: the figures show what they say and leave the caller's models as they were."""

from mae_helpers import MAE, get_mnist_loaders
from mae_helpers.viz import compare_reconstructions, visualize_reconstructions


def test_visualize_reconstructions_shows_one_image_per_digit(tmp_path):
    loaders = get_mnist_loaders(source="offline", digits=[2, 5, 8], max_train_images=300)
    fig = visualize_reconstructions(MAE(), loaders.test, n_images=10, path=tmp_path / "r.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["2", "5", "8"]
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_compare_reconstructions_leaves_the_callers_models_as_they_were(small_loaders):
    class Unmovable(MAE):
        def to(self, *args, **kwargs):
            raise AssertionError("the caller's model was moved")

    model = Unmovable().train()
    compare_reconstructions({"model": model}, small_loaders.test, device="cpu")
    assert model.training
