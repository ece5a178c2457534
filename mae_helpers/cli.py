"""`mae-unlearn` (also `python -m mae_helpers`): the whole experiment from the command line.

Only argument parsing and the checks around the run live here; the pipeline is
`experiment.py`. It trains (or reuses from the cache) the original MAE on all digits,
the auxiliary MAE on the forget digits, two retrained gold standards on the rest (their
spread is the yardstick), the judge and the witness; unlearns with --method; evaluates the
models on the held-out test digits, with membership inference and the relearning check,
beside an untrained MAE; writes checkpoints, metrics.json, figures and manifest.json.

Everything that can be checked is checked before any training: the numbers, the device,
the output folder (claimed, so a second run into it is refused), the --images folder and
the model cache. The run is written into a private folder inside --out and moved in file
by file at the end (files.RunFolder), so an error, Ctrl-C or a killed process leaves the
previous run as it was, and nothing the program did not write is ever removed.

torch is imported inside `main`, so Ctrl-C at any moment is one line, and an error a user
can act on is one line; any other error shows its traceback (`--debug`: every error does).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from .cache import NotCached, cache_dir
from .config import (
    FAST_OVERRIDES,
    FORGET_DIGITS_ORIGINAL,
    Config,
    ConfigError,
    env_flag,
    get_config,
    resolve_data_root,
    resolve_device,
)
from .files import RunFolder, explain, signals_held

# Flags that set a config field, and the field; given on the command line they beat fast mode.
CONFIG_FLAGS = {"strength": "strength", "epochs": "epochs", "unlearn_steps": "unlearn_max_steps",
                "retain_tolerance": "retain_tolerance", "seed": "seed", "data_root": "data_root", "source": "source"}
FLAG_OF = {**{field: "--" + flag.replace("_", "-") for flag, field in CONFIG_FLAGS.items()},
           "forget_digits": "--forget"}
# Each method of unlearn.LOSSES and where it comes from, for --help (one the table lacks shows its loss's docstring).
METHOD_SOURCES = {
    "evidence": "this course's method: hide the digit from a picture reader, with a bounded push",
    "evidence_codes": "the course's method, also hiding the digit from the three Q-layers on the codes",
    "repel": "the course's pixel-only ablation: the bounded push alone",
    "finetune": "baseline of the NeurIPS 2023 Machine Unlearning Challenge starting kit: fine-tune on retained digits",
    "neggrad": "NegGrad+ (Kurmanji et al. 2023): descend on retained digits, ascend (capped) on forget digits",
    "original": "the research code's loss: beta / MSE to the auxiliary network, on all digits",
}


def _default(field: str) -> str:
    """The help text's default of a config field, with fast mode's value where that differs."""
    full, fast = getattr(Config(), field), FAST_OVERRIDES.get(field)
    return f"default: {full}" + (f"; with --fast: {fast}" if fast is not None else "")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its default in --help."""
    from .unlearn import LOSSES, METHODS

    p = argparse.ArgumentParser(
        prog="mae-unlearn", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train an MAE on MNIST, make it forget some digits, and compare it with a model "
                    "retrained without them. Trained networks are cached (MAE_CACHE_DIR).")
    # Config flags default to SUPPRESS: absent from the namespace unless given, so an explicit value
    # is told apart from a default (and beats fast mode); their help states the defaults.
    unset = argparse.SUPPRESS
    p.add_argument("--forget", type=int, nargs="+", action="extend", default=unset, metavar="DIGIT",
                   help=f"digits to forget, not all ten; given twice, both count (default: "
                        f"{list(FORGET_DIGITS_ORIGINAL)})")
    p.add_argument("--out", default="runs/demo", help="folder for checkpoints, metrics.json and figures")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a previous run in --out (only files its manifest.json proves are the run's)")
    p.add_argument("--images", default=None, help="also copy the figures into this folder (make demo: images/)")
    phrases = {name: METHOD_SOURCES.get(name) or LOSSES[name].__doc__.splitlines()[0] for name in METHODS}
    sources = "; ".join(f"{name}: {phrase}" for name, phrase in phrases.items()).replace("%", "%%")  # argparse
    p.add_argument("--method", default="evidence", choices=METHODS, metavar="METHOD",
                   help=f"unlearning method, run by the same loop with the same budget ({sources})")
    p.add_argument("--strength", type=float, default=unset,
                   help=f"unlearning strength, >= 0 (0 = none) ({_default('strength')})")
    p.add_argument("--epochs", type=int, default=unset, help=f"training epochs of each MAE ({_default('epochs')})")
    p.add_argument("--unlearn-steps", type=int, default=unset,
                   help=f"most unlearning steps; the loop stops earlier once the forgotten digits' evidence is "
                        f"gone ({_default('unlearn_max_steps')})")
    p.add_argument("--retain-tolerance", type=float, default=unset,
                   help=f"largest tolerated rise of the retained digits' held-out MSE, as a fraction "
                        f"({_default('retain_tolerance')})")
    p.add_argument("--seed", type=int, default=unset,
                   help=f"random seed: split, shuffling, weights; 0 <= seed < 2**63 ({_default('seed')})")
    p.add_argument("--data-root", default=unset,
                   help="MNIST in torchvision's layout: DATA_ROOT/MNIST/raw; relative to the current folder "
                        "(default: $MAE_DATA_ROOT, else data/ in the repository)")
    p.add_argument("--source", default=unset, choices=["auto", "disk", "download", "offline"],
                   help=f"where MNIST comes from; auto = disk, then download, then the offline subset "
                        f"({_default('source')}; $MAE_DATA_SOURCE overrides auto)")
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:N or mps (default: the GPU when there is one, CUDA or Apple's MPS)")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=unset,
                   help=f"smoke-sized run {FAST_OVERRIDES}; explicit flags beat it (default: from MAE_FAST)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", help="show the traceback of every error, not only unexpected ones")
    room = p.add_argument_group("preparing a workshop room (no --out is written)")
    room.add_argument("--prepare-only", action="store_true",
                      help="train (or find) every network the notebooks and this job use for these settings, "
                           "cache them, list them, and stop")
    room.add_argument("--check-cache", action="store_true",
                      help="train nothing: exit 0 if every one of those networks is in the cache, else 1 naming "
                           "the first one missing")
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    """The run's config: full or fast defaults (--fast/--no-fast, else MAE_FAST), then every config flag given."""
    explicit = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items() if hasattr(args, flag)}
    if "data_root" in explicit:  # a path typed on the command line is relative to where it was typed
        explicit["data_root"] = os.path.abspath(os.path.expanduser(explicit["data_root"]))
    try:
        forget = getattr(args, "forget", FORGET_DIGITS_ORIGINAL)
        return get_config(fast=getattr(args, "fast", None), forget_digits=forget, **explicit)
    except ConfigError as err:  # name the flag, not the config field
        raise ValueError(str(err).replace(err.field, FLAG_OF.get(err.field, err.field), 1)) from None


def say(text: str) -> None:
    """Print to stdout, flushed; a reader that stopped reading (`mae-unlearn | head -1`) is no error (PipeSafe)."""
    print(text, flush=True)


class PipeSafe:
    """A text stream whose reader may stop reading (`| head -1`, `| grep -q`): what it misses is dropped, no error.

    The progress lines are worth less than the run: a closed pipe must never stop or fail it.
    """

    def __init__(self, stream):
        self._stream, self._gone = stream, False

    def write(self, text: str) -> int:
        if not self._gone:
            with self._unless_gone():
                return self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            with self._unless_gone():
                self._stream.flush()

    @contextmanager
    def _unless_gone(self):
        """Run the block; a broken pipe marks the reader gone, and its descriptor then leads to /dev/null."""
        try:
            yield
        except OSError as err:
            if not isinstance(err, BrokenPipeError) and err.errno != errno.EPIPE:
                raise
            self._gone = True
            try:  # so that what is still buffered, and Python's last flush at exit, go nowhere instead of failing
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            except (OSError, ValueError):  # no descriptor of its own (a test's capture)
                pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def pipe_safe_output():
    """sys.stdout and sys.stderr as PipeSafe streams while the block runs (every print and progress bar)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (None if s is None else PipeSafe(s) for s in saved)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def check_plotting() -> None:
    """Start matplotlib now: a bad MPLBACKEND is one line before the training, not a traceback after it."""
    try:
        import matplotlib  # noqa: F401 (matplotlib checks MPLBACKEND when imported)
    except ValueError as err:
        raise ValueError(f"matplotlib refuses MPLBACKEND={os.environ.get('MPLBACKEND')!r} ({str(err).split(';')[0]});"
                         " unset it or set MPLBACKEND=Agg (mae-unlearn only writes PNG files)") from None


def prepare_room(cfg: Config, args) -> int:
    """--prepare-only / --check-cache: the seven networks of `cfg` in the cache, listed with what they took."""
    from .cache import unwritable
    from .experiment import prepare
    from .files import probe_folder

    if args.prepare_only:
        probe_folder(cache_dir())  # a cache that cannot take files is an error here: filling it is the job
    p = prepare(cfg, device=args.device, progress=not args.quiet, train=not args.check_cache)
    if unwritable(cache_dir()):
        raise OSError(f"the networks could not all be saved in the cache {cache_dir()} (see the warning above)")
    forget = " ".join(map(str, cfg.forget_digits))
    fast = getattr(args, "fast", None)
    size = "fast" if (env_flag("MAE_FAST") if fast is None else fast) else "full"
    lines = [f"in the cache {cache_dir()} (data: {p.everything.train.dataset.source}, forget {forget}, "
             f"{size}-size settings):"]
    for name, history in p.training.items():
        how = f"adapted from the original in {cfg.aux_steps} steps" if name == "auxiliary" else \
            f"{len(history['epoch'])} epochs"
        lines.append(f"  {name:<11} MAE, {how}, trained in {sum(history['seconds']):.0f} s")
    lines += [f"  judge       CNN, {p.judge.test_accuracy:.1%} on the real test digits",
              f"  witness     CNN, {p.witness.test_accuracy:.1%} on the real validation digits",
              f"  readers     CNN and Q-layers, fitted to the original in {cfg.q_fit_steps} steps"]
    say("\n".join(lines))
    return 0


def kept_line(out: Path, since: float, run: RunFolder | None = None) -> str:
    """What survives an interrupted run: --out as it was (or complete), and the networks this run cached."""
    if run is not None and run.committed:
        if run.images is not None and not run.figures_copied:
            return f"interrupted: the run in {out} is complete; only copying its figures into --images was cut short"
        return f"interrupted: the run in {out} is complete"
    try:
        cached = [p for p in cache_dir().glob("*.pt") if p.stat().st_mtime >= since]
    except (OSError, ValueError):
        cached = []
    nets = f"{len(cached)} network(s) trained by this run are kept in the cache {cache_dir()} (a rerun reuses them)"
    return f"interrupted: {out} is as it was; {nets if cached else 'no network finished training in this run'}"


def expected(err: Exception) -> tuple[int, str] | None:
    """(exit code, one line) for an error a user can act on; None for anything else (a bug: show its traceback)."""
    data = sys.modules.get("mae_helpers.data")  # DownloadFailed can only come from there, once it is loaded
    if isinstance(err, NotCached) or (data is not None and isinstance(err, data.DownloadFailed)):
        return 1, str(err)
    if isinstance(err, ValueError):  # before OSError: a missing MNIST file is both, and a bad argument first
        return 2, f"error: {err}"
    if isinstance(err, OSError):
        return 1, f"error: {explain(err) if err.errno else err}"
    if type(err).__name__ == "OutOfMemoryError":  # torch's, from the GPU
        return 1, f"error: out of memory ({str(err).splitlines()[0]}); try --device cpu or --fast"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the main job; returns 0, or exits 2 (a bad argument), 1 (a file or cache error), 130 (Ctrl-C)."""
    with pipe_safe_output():  # a reader that stops reading costs the progress lines, never the run
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    """`main`, with output that may go nowhere."""
    args, out, start, run = None, None, time.time(), None
    try:
        with signals_held((signal.SIGINT,)):  # the imports: a Ctrl-C inside torch's C++ start-up aborts the process
            args = build_parser().parse_args(argv)
            cfg = config_from_args(args)
            try:
                resolve_device(args.device)
            except ValueError as err:
                raise ValueError(f"--{err}") from None  # its messages begin with "device"
            check_plotting()
            from . import experiment
        if args.prepare_only or args.check_cache:
            return prepare_room(cfg, args)
        from .cache import probe_cache

        out = Path(args.out)
        protected = {"the model cache": cache_dir(), "the MNIST data folder": resolve_data_root(cfg.data_root)}
        files = (*experiment.OUTPUT_FILES, *experiment.FIGURES)
        with RunFolder(out, args.overwrite, protected, args.images, files, experiment.FIGURES) as run:
            probe_cache(cache_dir())  # warns, and the run goes on uncached, when the cache cannot take files
            exp = experiment.run_experiment(cfg, args.method, device=args.device, progress=not args.quiet)
            experiment.write_outputs(exp, run.work)
            run.commit()
            figures_failed = copy_figures(run) if args.images is not None else None
        show_results(exp, out, experiment)
        if figures_failed:
            _exit(1, figures_failed)
    except KeyboardInterrupt:  # also while the results print: the run is then complete, and the line says so
        _exit(130, kept_line(out, start, run) if out else "interrupted")
    except Exception as err:
        if args is not None and args.debug:
            raise
        code, line = expected(err) or (1, None)
        if line is None:
            traceback.print_exc()
            line = "error: the unexpected error above stopped the run; please report it with its traceback"
        _exit(code, line)
    return 0


def copy_figures(run: RunFolder) -> str | None:
    """Copy the committed run's figures into --images; the line to end with when that fails, else None."""
    try:
        run.copy_figures()
    except (OSError, ValueError) as err:  # the run itself is complete: its report is still shown
        reason = explain(err) if isinstance(err, OSError) and err.errno else str(err)
        return f"error: {reason}; the run in {run.path} is complete, only its figures are not all in --images"
    return None


def show_results(exp, out: Path, experiment) -> None:
    """The report on stdout; how unlearning went and what was written on stderr."""
    say(str(exp.report))
    history = exp.unlearning
    from .unlearn import StopReason

    warning = "warning: " if history.stop_reason == StopReason.NON_FINITE else ""
    print(f"{warning}unlearning: {history.steps} steps in {history.seconds:.1f} s; {history.stopped}", file=sys.stderr)
    names = ", ".join((*experiment.OUTPUT_FILES, *experiment.FIGURES, RunFolder.MANIFEST))
    print(f"\nwrote {names} to {out}", file=sys.stderr)


def _exit(code: int, line: str) -> None:
    """Say `line` on stderr, prefixed with the program's name, and exit with `code`."""
    print(f"mae-unlearn: {line}", file=sys.stderr)
    raise SystemExit(code)


if __name__ == "__main__":
    raise SystemExit(main())
