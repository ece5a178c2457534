"""mae_helpers: data, model, training, unlearning, evaluation and plots for the evidence-unlearning course."""

from .config import CONFIG, FAST, Config, get_config
from .data import check_digits, get_mnist_loaders
from .model import MAE, count_parameters, load_model, save_model
from .train import History, train_and_validate, train_cached
from .viz import plot_history, visualize_reconstructions

__all__ = [
    "CONFIG", "FAST", "Config", "get_config",
    "check_digits", "get_mnist_loaders",
    "MAE", "count_parameters", "load_model", "save_model",
    "History", "train_and_validate", "train_cached",
    "plot_history", "visualize_reconstructions",
]
