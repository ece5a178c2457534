"""mae_helpers: data, model, training, unlearning, evaluation and plots for the evidence-unlearning course.

Each public name is imported from its module when first used: `import mae_helpers` takes no
time, and the command line starts (and answers Ctrl-C or --help) before torch is loaded.
"""

import importlib

# `unlearn` the function stays in its module (from mae_helpers.unlearn import unlearn): exporting it here
# would shadow the module itself for `import mae_helpers.unlearn`.
_EXPORTS = {
    "config": ("CONFIG", "FAST", "FORGET_DIGITS_ORIGINAL", "Config", "get_config"),
    "data": ("check_digits", "get_mnist_loaders", "split_digits"),
    "audit": ("mia_scores", "relearn_steps"),
    "evaluate": ("judge_scores", "per_digit_mse", "probe_accuracy", "train_judge"),
    "witness": ("train_witness",),
    "model": ("MAE", "count_parameters", "load_model", "save_model"),
    "report": ("UnlearningReport", "evaluate_model"),
    "train": ("History", "retrain", "train_and_validate", "train_auxiliary", "train_cached"),
    "unlearn": ("StopReason", "UnlearnHistory"),
    "viz": ("compare_reconstructions", "plot_curves", "plot_history", "plot_per_digit_mse",
            "visualize_reconstructions"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_HOME)


def __getattr__(name: str):
    """A public name, imported from its module on first use."""
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too, for tab completion."""
    return sorted(set(globals()) | set(__all__))
