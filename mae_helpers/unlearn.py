"""Unlearning: make a trained MAE forget some digits while it keeps reconstructing the rest.

Each step alternates between two players, on one batch of forget digits and one (larger)
batch of retained digits:

  learn    the three Q-layers (linear heads on the codes) take one Adam step to read the
           digit from the current codes: they find where the evidence of a digit lives;
  unlearn  the autoencoder takes one Adam step on `loss(s, x_forget, x_retain, cfg)` with
           those heads frozen: keep the retained digits, hide the evidence of the others.

Three losses (`LOSSES`), each a function you can read or replace:

* "evidence" (default): keep = MSE(out_r, x_r) + distill * MSE(out_r, original_out_r),
  plus w * (-log P(some retained digit) under each frozen Q-layer, averaged, + the bounded
  push exp(-d / tau) away from the auxiliary network's drawing of the forget digit).
* "repel": the same without the Q-layers (keep + bounded push): the pixel-only ablation.
* "original": the research code's loss on batches of *all* digits,
  MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8), beta = 0.1 x strength.

When to stop matters more than the loss: on a 48k-image training set the old loop forgot
cleanly after 294 steps and wrecked every digit after 588. So the loop controls itself,
and nothing in it grows with the data set (`controlled_loop`):

* a budget of `cfg.unlearn_max_steps` steps, not epochs over the forget digits;
* a witness that takes no part in the game: the *original* model's encoder with the
  Q-layers fitted to it before unlearning. Every `cfg.check_every` steps it looks at the
  reconstructions of held-out (validation) forget digits and counts those it still
  recognises. Once that is at most `cfg.forget_target / strength`, the evidence is gone
  and the loop stops;
* a guard on the retained digits: their held-out MSE may rise by at most
  `cfg.retain_tolerance x strength`. Weights outside the guard are never returned (the loop
  returns the checked weights inside it where the witness saw the least evidence), and the
  push adapts to it: the forgetting weight w shrinks when the retained MSE nears the
  tolerance and grows while it is well inside, so the loop pushes as hard as the
  retained digits allow, on any data set;
* a cool-down: `cfg.cooldown_steps` more steps with the learning rate falling to zero,
  so the weights settle instead of stopping mid-jitter.

Strength is the one dial: it sets how little evidence may remain *and* how much the
retained digits may pay for it. More strength pushes harder and longer, so it forgets more
and costs more; 0 does nothing.

"original" keeps the research run's rules instead (`research_loop`): no witness, no guard,
no cool-down; it spends the whole budget at a constant learning rate and returns the
weights with the lowest validation loss, computed as the research code did (the 1 / MSE
term without beta). What differs from the research run: the budget (steps, not 100
epochs), one learning rate (`cfg.unlearn_lr`, not a sweep), our data split and seeds.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import Config, as_number, get_config, resolve_device
from .data import loaders_for, split_digits
from .model import MAE
from .train import autocast_for, train_cached

# ----------------------------------------------------------------------------- the losses


def repulsion(out: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """Bounded push away from `target`: exp(-d / tau) per image, d = its MSE; in (0, 1]."""
    d = (out - target).pow(2).flatten(1).mean(1)
    return torch.exp(-d / tau).mean()


def forget_evidence(q_logits: tuple[torch.Tensor, ...], retain_mask: torch.Tensor) -> torch.Tensor:
    """-log P(some retained digit) under each Q-layer, averaged: 0 once no head sees a forget digit."""
    losses = [-torch.logsumexp(logits.float().log_softmax(1)[:, retain_mask], dim=1) for logits in q_logits]
    return torch.stack(losses).mean()


def frozen_heads(model: MAE, codes: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The Q-layers applied with their weights detached: the autoencoder's step must not train them."""
    return tuple(F.linear(c, q.weight.detach(), q.bias.detach()) for q, c in zip(model.q_layers, codes))


def keep_retained(s, out_r: torch.Tensor, x_r: torch.Tensor, cfg: Config) -> torch.Tensor:
    """Redraw the retained digits, and stay close to what the original model drew for them."""
    return F.mse_loss(out_r, x_r) + cfg.distill_weight * F.mse_loss(out_r, s.teacher_out(x_r))


def loss_evidence(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """Keep the retained digits; leave the frozen Q-layers no evidence of a forget digit; push away (bounded)."""
    outs = s.model.forward_all(torch.cat([x_f, x_r]))
    n = len(x_f)
    out_f, out_r = outs.reconstruction[:n], outs.reconstruction[n:]
    codes = (outs.encoded[:n], outs.bottleneck[:n], outs.decoder_input[:n])
    evidence = forget_evidence(frozen_heads(s.model, codes), s.retain_mask)
    push = repulsion(out_f, s.aux_out(x_f), cfg.repel_tau)
    return keep_retained(s, out_r, x_r, cfg) + s.forget_weight * (evidence + push)


def loss_repel(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The evidence loss without the Q-layers: keep the retained digits, push forget drawings away (bounded)."""
    out = s.model(torch.cat([x_f, x_r]))
    out_f, out_r = out[: len(x_f)], out[len(x_f):]
    return keep_retained(s, out_r, x_r, cfg) + s.forget_weight * repulsion(out_f, s.aux_out(x_f), cfg.repel_tau)


def loss_original(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The research code's loss on a batch of all digits: MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8)."""
    x = torch.cat([x_f, x_r])
    out = s.model(x)
    return F.mse_loss(out, x) + s.beta / (F.mse_loss(out, s.aux_out(x)) + 1e-8)


LOSSES: dict[str, Callable] = {"evidence": loss_evidence, "repel": loss_repel, "original": loss_original}
METHODS = tuple(LOSSES)
ORIGINAL_BETA = 0.1  # the research code's beta; strength scales it


# ----------------------------------------------------------------------------- the players and the witness


@dataclass
class UnlearnState:
    """What a loss function receives as `s`: the model being changed, its frozen references, the batch."""

    model: MAE
    aux: MAE
    teacher: MAE
    forget_weight: float  # cfg.forget_weight: the forgetting terms against 1 for each keep term
    retain_mask: torch.Tensor  # (10,) True for the retained digits
    beta: float = ORIGINAL_BETA  # only the "original" loss uses it
    labels: torch.Tensor | None = None  # digits of the current (forget + retain) batch

    @torch.no_grad()
    def aux_out(self, x):
        """The auxiliary network's reconstruction (the thing to move away from)."""
        return self.aux(x)

    @torch.no_grad()
    def teacher_out(self, x):
        """The original model's reconstruction (the thing to stay close to on retained digits)."""
        return self.teacher(x)


@torch.no_grad()
def codes_of(model: MAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three codes the Q-layers read (encoded, bottleneck, decoder_input), without the decoder."""
    encoded = model.encoder(x)
    bottleneck = model.dense(encoded)
    return encoded, bottleneck, model.undense(bottleneck)


def q_layer_step(model: MAE, optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One step of the learning player: the Q-layers learn to read the digit from the current codes."""
    loss = sum(F.cross_entropy(q(c), y) for q, c in zip(model.q_layers, codes_of(model, x))) / 3
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def fit_q_layers(model: MAE, optimizer, images: torch.Tensor, labels: torch.Tensor, steps: int,
                 batch_size: int, seed: int) -> None:
    """Fit the Q-layers to the (frozen) codes for `steps` random batches: the adversary starts able to read them."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.randint(len(labels), (batch_size,), generator=generator).to(labels.device)
        q_layer_step(model, optimizer, images[pick], labels[pick])


class Witness:
    """The original model's eyes: its encoder and fitted Q-layers, frozen, reading reconstructions.

    `recognised(model)`: the fraction of held-out forget digits whose reconstruction by
    `model` the witness still names correctly. `retain_ratio(model)`: the held-out retained
    digits' MSE relative to the original's. Both on validation images no step trains on.
    """

    def __init__(self, eyes: MAE, forget_val, retain_val, max_images: int):
        self.eyes = eyes.eval()
        self.x_f, self.y_f = forget_val.images[:max_images], forget_val.targets[:max_images]
        self.x_r = retain_val.images[:max_images]
        self.base_retain = self.retain_mse(eyes)

    @torch.no_grad()
    def recognised(self, model: MAE) -> float:
        """Fraction of held-out forget digits whose reconstruction the witness names correctly."""
        codes = codes_of(self.eyes, model.eval()(self.x_f).float())  # the original's codes of the drawings
        belief = torch.stack([q(c).float().softmax(1) for q, c in zip(self.eyes.q_layers, codes)]).mean(0)
        return (belief.argmax(1) == self.y_f).float().mean().item()

    @torch.no_grad()
    def retain_mse(self, model: MAE) -> float:
        """Reconstruction MSE of the held-out retained digits."""
        return F.mse_loss(model.eval()(self.x_r).float(), self.x_r).item()

    def retain_ratio(self, model: MAE) -> float:
        """The held-out retained digits' MSE relative to the original model's."""
        return self.retain_mse(model) / self.base_retain

    @torch.no_grad()
    def forget_mse(self, model: MAE) -> float:
        """Reconstruction MSE of the held-out forget digits."""
        return F.mse_loss(model.eval()(self.x_f).float(), self.x_f).item()


@dataclass
class UnlearnHistory:
    """What the loop measured at each check (held-out digits), why it stopped, and how long it took."""

    method: str = "evidence"
    strength: float = 1.0
    target: float = 0.0  # stop once the witness recognises at most this fraction of forget digits
    tolerance: float = 0.0  # the guard: retained MSE at most (1 + tolerance) x the original's
    step: list[int] = field(default_factory=list)
    recognised: list[float] = field(default_factory=list)  # witness on held-out forget reconstructions
    retain_ratio: list[float] = field(default_factory=list)  # held-out retained MSE / original's
    mse_forget: list[float] = field(default_factory=list)  # held-out forget digits' reconstruction MSE
    steps: int = 0  # unlearning steps taken (push and cool-down)
    stopped: str = ""  # why the push ended: evidence gone, retained guard, budget, non-finite loss
    seconds: float = 0.0  # wall time of the whole call: fitting the Q-layers, steps, checks

    def record(self, step: int, recognised: float, retain_ratio: float, mse_forget: float) -> None:
        """Append one check's measurements."""
        self.step.append(step)
        self.recognised.append(recognised)
        self.retain_ratio.append(retain_ratio)
        self.mse_forget.append(mse_forget)

    def to_dict(self) -> dict:
        """Plain dict, JSON-able."""
        return asdict(self)


# ----------------------------------------------------------------------------- the loop


def batches(cfg: Config, all_digits: bool, device) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless (x_forget, y_forget, x_retain, y_retain) batches from the training splits, reshuffled each pass.

    `cfg.batch_size` forget digits come with `cfg.retain_batch` retained ones: the retained
    digits are what the step must not disturb, and a bigger batch holds them in place.
    `all_digits`: batches of all digits split by label, as the research code drew them.
    """
    forget, retain = split_digits(cfg.forget_digits)
    if all_digits:
        loader = loaders_for(cfg, None, device).train
        is_forget = torch.isin(torch.arange(10), torch.tensor(forget)).to(loader.dataset.targets.device)
        while True:
            for x, y in loader:
                m = is_forget[y]
                yield x[m], y[m], x[~m], y[~m]
    forget_loader = loaders_for(cfg, forget, device).train
    retain_loader = loaders_for(replace(cfg, batch_size=cfg.retain_batch), retain, device).train
    retained = iter(())
    while True:
        for x_f, y_f in forget_loader:
            try:
                x_r, y_r = next(retained)
            except StopIteration:
                retained = iter(retain_loader)
                x_r, y_r = next(retained)
            yield x_f, y_f, x_r, y_r


class Run:
    """One unlearning run's moving parts: the student and its references, the two optimizers, the witness."""

    def __init__(self, model: MAE, aux: MAE, loss_fn: Callable, cfg: Config, device, all_digits: bool = False):
        forget, retain = split_digits(cfg.forget_digits)
        self.cfg, self.loss_fn, self.device = cfg, loss_fn, device
        self.student = copy.deepcopy(model).to(device).train()
        retain_mask = torch.isin(torch.arange(10), torch.tensor(retain)).to(device)
        self.s = UnlearnState(self.student, aux.to(device).eval(), copy.deepcopy(model).to(device).eval(),
                              cfg.forget_weight, retain_mask, beta=ORIGINAL_BETA * cfg.strength)
        self.q_opt = torch.optim.Adam(self.student.q_layers.parameters(), lr=cfg.q_lr)
        self.mae_opt = torch.optim.Adam(self.student.autoencoder_parameters(), lr=cfg.unlearn_lr)
        self.learn_q = not all_digits  # the research code had no Q-layers
        everything = loaders_for(cfg, None, device)
        self.val_images = everything.val.dataset.images[: 2 * cfg.witness_images]
        # The adversary starts able to read the codes, and a frozen copy of it becomes the witness.
        fit_q_layers(self.student, self.q_opt, everything.train.dataset.images, everything.train.dataset.targets,
                     cfg.q_fit_steps, cfg.retain_batch, cfg.seed)
        self.witness = Witness(copy.deepcopy(self.student), loaders_for(cfg, forget, device).val.dataset,
                               loaders_for(cfg, retain, device).val.dataset, cfg.witness_images)
        self.feed = batches(cfg, all_digits, device)

    def step(self) -> bool:
        """One step of each player on the next batches: learn (Q-layers), then unlearn (autoencoder).

        False, and no change to the autoencoder, when its loss is not finite.
        """
        x_f, y_f, x_r, y_r = next(self.feed)
        if self.learn_q:  # as many retained digits as forget digits: the heads favour neither group
            q_layer_step(self.student, self.q_opt, torch.cat([x_f, x_r[: len(x_f)]]),
                         torch.cat([y_f, y_r[: len(x_f)]]))
        self.s.labels = torch.cat([y_f, y_r])
        with autocast_for(self.device, self.cfg.precision):
            loss = self.loss_fn(self.s, x_f, x_r, self.cfg)
        if not torch.isfinite(loss):
            return False
        self.mae_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.mae_opt.step()
        return True

    def look(self, history: UnlearnHistory, step: int) -> tuple[float, float]:
        """The witness and the guard on held-out digits: (fraction recognised, retained MSE ratio), recorded."""
        recognised, ratio = self.witness.recognised(self.student), self.witness.retain_ratio(self.student)
        history.record(step, recognised, ratio, self.witness.forget_mse(self.student))
        self.student.train()
        return recognised, ratio

    def research_val_loss(self) -> float:
        """The research code's validation loss: MSE(out, x) + 1 / (MSE(out, aux_out) + 1e-8), beta left out."""
        with torch.no_grad():
            out = self.student.eval()(self.val_images)
            value = F.mse_loss(out, self.val_images) + 1 / (F.mse_loss(out, self.s.aux(self.val_images)) + 1e-8)
        self.student.train()
        return value.item()

    def weights(self) -> dict:
        """A copy of the student's current weights."""
        return copy.deepcopy(self.student.state_dict())


def controlled_loop(run: Run, cfg: Config, history: UnlearnHistory, bar) -> None:
    """Push until the witness finds no evidence or the budget is spent, inside the guard; then cool down."""
    strength = history.strength
    target = cfg.forget_target / strength if strength > 0 else math.inf
    tolerance = cfg.retain_tolerance * strength
    history.target, history.tolerance = (target if strength > 0 else 0.0), tolerance
    recognised, _ = run.look(history, 0)
    # The checked weights inside the guard where the witness saw the least evidence (step 0 is
    # inside): the witness's count jitters from check to check, so the last look is not the best.
    kept, kept_step, least = run.weights(), 0, recognised
    step = 0
    while recognised > target and step < cfg.unlearn_max_steps:
        if not run.step():
            history.stopped = f"non-finite loss at step {step + 1}; lower cfg.unlearn_lr"
            break
        step += 1
        bar.update(1)
        if step % cfg.check_every and step < cfg.unlearn_max_steps:
            continue
        recognised, ratio = run.look(history, step)
        inside = ratio <= 1 + tolerance
        if inside and recognised < least:
            kept, kept_step, least = run.weights(), step, recognised
        run.s.forget_weight = adapt_forget_weight(run.s.forget_weight, ratio, tolerance, cfg.forget_weight)
        if not inside:
            recognised = math.inf  # never stop on weights outside the guard
    if strength == 0:
        history.stopped = "strength 0: no unlearning"
    elif recognised <= target:
        history.stopped = (f"evidence gone at step {step}: the witness recognises {recognised:.1%}"
                           if step else "nothing to remove: the witness finds no evidence at step 0")
    history.stopped = history.stopped or f"step budget ({cfg.unlearn_max_steps}) used up; kept step {kept_step}"
    run.student.load_state_dict(kept)
    if step and "non-finite" not in history.stopped:
        step += cool_down(run, cfg.cooldown_steps)
        if run.look(history, step)[1] > 1 + tolerance:  # the cool-down must respect the guard too
            run.student.load_state_dict(kept)
    history.steps = step


def adapt_forget_weight(weight: float, ratio: float, tolerance: float, start: float) -> float:
    """Push as hard as the retained digits allow: back off above 90% of the tolerance, press on below 70%."""
    if ratio > 1 + 0.9 * tolerance:
        return weight * 0.6
    if ratio < 1 + 0.7 * tolerance:
        return min(weight * 1.3, 8 * start)
    return weight


def cool_down(run: Run, steps: int) -> int:
    """`steps` more steps with the learning rate falling linearly to zero; returns the steps taken."""
    start = [group["lr"] for group in run.mae_opt.param_groups]
    for k in range(steps):
        for group, lr in zip(run.mae_opt.param_groups, start):
            group["lr"] = lr * (1 - k / steps)
        if not run.step():
            return k
    return steps


def research_loop(run: Run, cfg: Config, history: UnlearnHistory, bar) -> None:
    """The research code's rules: the whole budget at a constant rate; keep the lowest validation loss."""
    run.look(history, 0)
    kept, best, kept_step = run.weights(), run.research_val_loss(), 0
    for step in range(1, cfg.unlearn_max_steps + 1):
        if not run.step():
            history.stopped = f"non-finite loss at step {step}; lower the strength or cfg.unlearn_lr"
            break
        bar.update(1)
        history.steps = step
        if step % cfg.check_every == 0 or step == cfg.unlearn_max_steps:
            run.look(history, step)
            if (value := run.research_val_loss()) < best:
                kept, best, kept_step = run.weights(), value, step
    history.stopped = history.stopped or f"step budget used up; kept step {kept_step}, the lowest validation loss"
    run.student.load_state_dict(kept)


def check_aux(model: MAE, aux: MAE) -> None:
    """The auxiliary network must have the main model's architecture (its outputs are compared)."""
    if getattr(aux, "config", None) != getattr(model, "config", None):
        raise ValueError(
            f"the auxiliary model's architecture {getattr(aux, 'config', type(aux).__name__)} differs from the "
            f"main model's {getattr(model, 'config', type(model).__name__)}; train it with train_auxiliary() "
            "using the same config"
        )


def unlearn(model: MAE, aux: MAE, cfg: Config | None = None, method: str | Callable = "evidence", device=None,
            progress: bool = True) -> tuple[MAE, UnlearnHistory]:
    """Return an unlearned copy of `model` (the original is untouched) and what the loop measured.

    Every setting comes from `cfg`: the digits to forget, the strength, the budget and the
    stopping rule (module docstring). `method` is a name in `LOSSES` or your own
    `loss(s, x_forget, x_retain, cfg) -> tensor` (see `loss_evidence`), run by the same loop.
    """
    cfg = get_config() if cfg is None else cfg
    loss_fn = method if callable(method) else LOSSES.get(method)
    if loss_fn is None:
        raise ValueError(f"method must be one of {METHODS} or a loss function f(s, x_f, x_r, cfg); got {method!r}")
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    strength = as_number(cfg.strength, "strength")
    if strength < 0:
        raise ValueError(f"strength must be >= 0 (0 = no unlearning); got {cfg.strength!r}")
    for key in ("unlearn_max_steps", "check_every", "retain_batch", "q_fit_steps", "witness_images"):
        if isinstance(getattr(cfg, key), bool) or not isinstance(getattr(cfg, key), int) or getattr(cfg, key) < 1:
            raise ValueError(f"cfg.{key} must be a whole number >= 1; got {getattr(cfg, key)!r}")
    check_aux(model, aux)
    cfg = cfg.replace(strength=strength)
    tic = time.perf_counter()
    run = Run(model, aux, loss_fn, cfg, resolve_device(device), all_digits=name == "original")
    history = UnlearnHistory(method=name, strength=strength)
    with tqdm(total=cfg.unlearn_max_steps, desc=f"unlearn ({name})", unit="step", disable=not progress) as bar:
        (research_loop if name == "original" else controlled_loop)(run, cfg, history, bar)
    if "non-finite" in history.stopped:
        print(history.stopped, file=sys.stderr)
    history.seconds = time.perf_counter() - tic
    return run.student.eval(), history


# ----------------------------------------------------------------------------- the other two networks


def train_auxiliary(forget_digits, cfg: Config | None = None, device=None, progress: bool = True) -> tuple[MAE, dict]:
    """An MAE trained only on the forget digits (cached like every trained model)."""
    forget, _ = split_digits(forget_digits)
    return train_cached("auxiliary", forget, cfg, device=device, progress=progress)


def retrain(forget_digits, cfg: Config | None = None, device=None, progress: bool = True) -> tuple[MAE, dict]:
    """The gold standard: a fresh MAE trained only on the retained digits, with the original's budget."""
    _, retain = split_digits(forget_digits)
    return train_cached("retrained", retain, cfg, device=device, progress=progress)
