"""mae_helpers: data, model, training, unlearning, evaluation and plots for the evidence-unlearning course."""

from .config import CONFIG, FAST, FORGET_DIGITS_ORIGINAL, Config, get_config
from .data import check_digits, get_mnist_loaders, split_digits
from .evaluate import UnlearningReport, evaluate_model, judge_scores, per_digit_mse, probe_accuracy, train_judge
from .model import MAE, count_parameters, load_model, save_model
from .train import History, train_and_validate, train_cached

# `unlearn` the function stays in its module (from mae_helpers.unlearn import unlearn): exporting it here
# would shadow the module itself for `import mae_helpers.unlearn`.
from .unlearn import UnlearnHistory, retrain, train_auxiliary
from .viz import compare_reconstructions, plot_curves, plot_history, plot_per_digit_mse, visualize_reconstructions

__all__ = [
    "CONFIG", "FAST", "FORGET_DIGITS_ORIGINAL", "Config", "get_config",
    "check_digits", "get_mnist_loaders", "split_digits",
    "UnlearningReport", "evaluate_model", "judge_scores", "per_digit_mse", "probe_accuracy", "train_judge",
    "MAE", "count_parameters", "load_model", "save_model",
    "History", "train_and_validate", "train_cached",
    "UnlearnHistory", "retrain", "train_auxiliary",
    "compare_reconstructions", "plot_curves", "plot_history", "plot_per_digit_mse", "visualize_reconstructions",
]
