"""Unlearning: make a trained MAE forget some digits while it keeps reconstructing the rest.

Each step plays two moves on one batch of forget digits and one of retained digits:

  learn    the readers take one Adam step: two small CNNs (`PictureReader`) learn to name the
           digit in the model's current *drawings*, and the three Q-layers (linear heads on
           the codes) learn to name it from the current codes. They find the evidence;
  unlearn  the autoencoder takes one Adam step on `loss(s, x_forget, x_retain, cfg)` with the
           readers frozen: keep the retained digits, leave the readers no forget digit.

The losses (`LOSSES`) are functions you can read or replace; the same loop runs them all:

* "evidence" (default): keep = MSE(out_r, x_r) + distill * MSE(out_r, original_out_r),
  plus w * (-log P(the likeliest retained digit) under the frozen picture reader + the
  bounded push exp(-d / tau) away from the auxiliary network's drawing of the forget digit):
  each forget digit is redrawn as one clear other digit, not a scribble between two.
* "evidence_codes": the same, hiding the digit from the three Q-layers on the codes as well.
  It removes more from the codes than retraining does: a probe can tell (notebook 4).
* "repel": keep + bounded push only, no reader: the pixel-only ablation.
* "finetune": only MSE(out_r, x_r) on the retained digits, the baseline of the NeurIPS 2023
  Machine Unlearning Challenge's starting kit: forget by letting the forget digits fade.
* "neggrad": NegGrad+ (Kurmanji et al. 2023): descend on the retained digits' MSE, ascend
  on the forget digits', each image's ascent capped so that it cannot run away.
* "original": the research code's loss on batches of *all* digits,
  MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8), beta = 0.1 x strength.

When to stop matters more than the loss (pushed too long, any of them wrecks every digit),
so the loop controls itself and nothing in it grows with the data set:

* a budget of `cfg.unlearn_max_steps` steps, not epochs over the forget digits;
* a witness that takes no part in the game: two CNNs of other architectures than the
  readers', trained on the real training digits and the original's reconstructions of them
  (`evaluate.train_witness`; a digit is seen when either sees it; not the judge that grades
  the result). Every `cfg.check_every` steps it reads the reconstructions of
  held-out forget digits; its mean belief that they show *any* forget digit (a 0 redrawn as
  a 9 is not forgotten when 9 goes too) must be at most `cfg.forget_target / strength` at
  CONFIRMATIONS (2) checks in a row: then stop (one lucky look is not enough);
* a guard on the retained digits: their held-out MSE may rise by at most
  `cfg.retain_tolerance x strength`. Weights a check finds outside it are never returned;
* held out means no copy of the image is in the training split: the witness and the guard
  drop validation images whose exact pixels are a training image's (duplicates, tiled or
  augmented data sets), because a model redraws what it memorised too well to tell
  anything (`UnlearnHistory.dropped_copies` says how many went);
* a controller for the push, which starts gentle and grows only into the room the guard
  leaves. The learning rate ramps up from zero over `cfg.ramp_steps`, and the forgetting
  weight w starts small (`cfg.forget_weight`): at the original's weights the keep terms
  have almost no gradient, so Adam, whose steps have full size whatever the gradient's
  scale, would otherwise spend its first steps on forgetting alone and leave the guard. At
  each check inside the guard, w grows x1.5 while the retained MSE is in the lower half of
  the tolerance and shrinks x0.7 above 80% of it. A check outside the guard sends the model
  back to the last weights inside it, with fresh Adam moments, half the weight and a new
  ramp: it never climbs back out of the damage.

The loop returns the checked weights inside the guard where the witness saw the least
evidence (it jitters between checks, so the last look is not always the best);
`UnlearnHistory.kept_step` says which check that was. Strength is the one dial: it sets how
little evidence may remain *and* how much the retained digits may pay for it; 0 returns an
unchanged copy, whatever the method.

"original" keeps the research run's rules instead (`research_loop`): no witness stop, no
guard; the whole budget at a constant learning rate, returning the checked weights with the
lowest validation loss computed as the research code did (the 1 / MSE term without beta).
"""

from __future__ import annotations

import copy
import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .config import Config, get_config, resolve_device
from .data import loaders_for, split_digits
from .evaluate import conv_block, train_witness
from .model import MAE
from .train import autocast_for, train_cached

# ----------------------------------------------------------------------------- the losses


def repulsion(out: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """Bounded push away from `target`: exp(-d / tau) per image, d = its MSE; in (0, 1]."""
    d = (out - target).pow(2).flatten(1).mean(1)
    return torch.exp(-d / tau).mean()


def forget_evidence(q_logits: tuple[torch.Tensor, ...], retain_mask: torch.Tensor) -> torch.Tensor:
    """-log P(the likeliest retained digit) under each reader, averaged: 0 once each reads one clear retained digit.

    Not -log P(some retained digit): that is met by a scribble the reader splits between a 3
    and a 7, which another classifier may well call an 8 (benchmarks/results). One clear
    retained digit is a drawing every reader agrees on.
    """
    losses = [-logits.float().log_softmax(1)[:, retain_mask].max(1).values for logits in q_logits]
    return torch.stack(losses).mean()


def frozen_heads(model: MAE, codes: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The Q-layers applied with their weights detached: the autoencoder's step must not train them."""
    return tuple(F.linear(c, q.weight.detach(), q.bias.detach()) for q, c in zip(model.q_layers, codes))


def keep_retained(s, out_r: torch.Tensor, x_r: torch.Tensor, cfg: Config) -> torch.Tensor:
    """Redraw the retained digits, and stay close to what the original model drew for them."""
    return F.mse_loss(out_r, x_r) + cfg.distill_weight * F.mse_loss(out_r, s.teacher_out(x_r))


def read_picture(s, pictures: torch.Tensor) -> torch.Tensor:
    """The reader's logits for `pictures`, weights detached (the autoencoder's step must not train it) and batch
    norm in eval mode (each drawing is read on its own, not by the statistics of a batch of forget digits)."""
    weights = {name: value.detach() for name, value in s.reader.named_parameters()}
    training = s.reader.training
    try:
        return torch.func.functional_call(s.reader.eval(), weights, (pictures,))
    finally:
        s.reader.train(training)


def loss_evidence(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """Keep the retained digits; leave the frozen reader no forget digit in the drawings; push away (bounded)."""
    out = s.model(torch.cat([x_f, x_r]))
    out_f, out_r = out[: len(x_f)], out[len(x_f):]
    evidence = forget_evidence((read_picture(s, out_f),), s.retain_mask)
    push = repulsion(out_f, s.aux_out(x_f), cfg.repel_tau)
    return keep_retained(s, out_r, x_r, cfg) + s.forget_weight * (evidence + push)


def loss_evidence_codes(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The evidence loss, hiding the digit from the three Q-layers on the codes as well as from the reader."""
    outs = s.model.forward_all(torch.cat([x_f, x_r]))
    n = len(x_f)
    out_f, out_r = outs.reconstruction[:n], outs.reconstruction[n:]
    codes = (outs.encoded[:n], outs.bottleneck[:n], outs.decoder_input[:n])
    evidence = forget_evidence((*frozen_heads(s.model, codes), read_picture(s, out_f)), s.retain_mask)
    push = repulsion(out_f, s.aux_out(x_f), cfg.repel_tau)
    return keep_retained(s, out_r, x_r, cfg) + s.forget_weight * (evidence + push)


def loss_repel(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The evidence loss without the Q-layers: keep the retained digits, push forget drawings away (bounded)."""
    out = s.model(torch.cat([x_f, x_r]))
    out_f, out_r = out[: len(x_f)], out[len(x_f):]
    return keep_retained(s, out_r, x_r, cfg) + s.forget_weight * repulsion(out_f, s.aux_out(x_f), cfg.repel_tau)


def loss_finetune(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """Fine-tune on the retained digits only (the NeurIPS 2023 unlearning challenge's starting-kit baseline)."""
    return F.mse_loss(s.model(x_r), x_r)


NEGGRAD_CAP = 0.5  # per image: ascend a forget digit's MSE only up to ~5x a good reconstruction's error


def loss_neggrad(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """NegGrad+ (Kurmanji et al., NeurIPS 2023): descend on retained MSE, ascend on forget MSE (capped per image)."""
    out = s.model(torch.cat([x_f, x_r]))
    out_f, out_r = out[: len(x_f)], out[len(x_f):]
    ascent = (out_f - x_f).pow(2).flatten(1).mean(1).clamp(max=NEGGRAD_CAP).mean()
    return F.mse_loss(out_r, x_r) - s.forget_weight * ascent


def loss_original(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The research code's loss on a batch of all digits: MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8)."""
    x = torch.cat([x_f, x_r])
    out = s.model(x)
    return F.mse_loss(out, x) + s.beta / (F.mse_loss(out, s.aux_out(x)) + 1e-8)


LOSSES: dict[str, Callable] = {"evidence": loss_evidence, "evidence_codes": loss_evidence_codes, "repel": loss_repel,
                               "finetune": loss_finetune, "neggrad": loss_neggrad, "original": loss_original}
METHODS = tuple(LOSSES)
READS = ("evidence", "evidence_codes")  # methods whose loss reads the readers: only they play the learning move
ORIGINAL_BETA = 0.1  # the research code's beta; strength scales it


# ----------------------------------------------------------------------------- the players and the witness


class PictureReader(nn.Module):
    """Two small CNNs that name the digit in a drawing: the learning player's eyes on the picture.

    A plain strided CNN and a batch-norm CNN, their log-probabilities averaged. Against one
    plain CNN alone the autoencoder learns drawings that fool that kind of network only
    (an 8 redrawn as a 3 with faint strokes a batch-norm CNN still reads as 8); a drawing
    must fool both kinds of eyes at once to count as forgotten.
    """

    def __init__(self):
        super().__init__()
        self.plain = nn.Sequential(nn.Conv2d(1, 8, 5, stride=2), nn.ReLU(),  # 28 -> 12
                                   nn.Conv2d(8, 16, 5, stride=2), nn.ReLU(),  # 12 -> 4
                                   nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
        self.normed = nn.Sequential(conv_block(1, 16), nn.MaxPool2d(2), conv_block(16, 32), nn.MaxPool2d(2),  # 7
                                    conv_block(32, 32), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 9, 10))

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) for a batch of (N, 1, 28, 28) drawings: the mean of the two readers' log-probabilities."""
        return (self.plain(pictures).log_softmax(1) + self.normed(pictures).log_softmax(1)) / 2


@dataclass
class UnlearnState:
    """What a loss function receives as `s`: the model being changed, the reader, its frozen references, the batch."""

    model: MAE
    reader: nn.Module  # the learning player on the drawings (PictureReader); the Q-layers live in `model`
    aux: MAE
    teacher: MAE
    forget_weight: float  # w: the forgetting terms against 1 for each keep term (the controller moves it)
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


def learn_step(s: UnlearnState, optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One step of the learning player: the Q-layers read the digit from the current codes, the reader from
    the current drawings (both computed without gradient, so only the readers learn)."""
    with torch.no_grad():
        outs = s.model.forward_all(x)
    codes = (outs.encoded, outs.bottleneck, outs.decoder_input)
    loss = sum(F.cross_entropy(q(c), y) for q, c in zip(s.model.q_layers, codes)) / 3
    loss = loss + F.cross_entropy(s.reader(outs.reconstruction), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def fit_readers(s: UnlearnState, optimizer, images: torch.Tensor, labels: torch.Tensor, steps: int,
                batch_size: int, seed: int) -> None:
    """Before the game, `steps` learning steps on random training batches: the readers start able to read."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.randint(len(labels), (batch_size,), generator=generator).to(labels.device)
        learn_step(s, optimizer, images[pick], labels[pick])


def image_hashes(images: torch.Tensor) -> list[bytes]:
    """One short hash of each image's exact pixels (copies of an image share it)."""
    flat = images.detach().cpu().float().flatten(1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in flat]


def not_copies(images: torch.Tensor, training_images: torch.Tensor) -> torch.Tensor:
    """Mask of the `images` whose exact pixels are not those of any training image."""
    seen = set(image_hashes(training_images))
    return torch.tensor([h not in seen for h in image_hashes(images)], dtype=torch.bool, device=images.device)


START_RATE = 0.1  # the push starts at this fraction of cfg.unlearn_lr and grows while the guard allows
CONFIRMATIONS = 2  # checks in a row that must meet the target: one lucky look is not enough
FORGET_WEIGHT_CAP = 64  # the controller keeps w within this multiple of cfg.forget_weight
MIN_HELD_OUT = 16  # fewer held-out images than this per group, and a check is noise


class Witness:
    """The loop's eyes on held-out digits: how many forget digits it still names, and what the retained ones cost.

    `evidence(model)`: the share of held-out forget digits whose reconstruction by `model`
    the witness network names as any forget digit. `retain_ratio(model)`: the held-out
    retained digits' MSE relative to the original's. Validation images that are exact copies
    of training images are dropped first (`dropped` counts them).
    """

    def __init__(self, net: torch.nn.Module, teacher: MAE, forget_val, retain_val, training_images: torch.Tensor,
                 forget_digits, max_images: int):
        self.net, self.forget = net, torch.tensor(forget_digits, device=forget_val.images.device)
        keep_f = not_copies(forget_val.images, training_images)
        keep_r = not_copies(retain_val.images, training_images)
        self.dropped = int((~keep_f).sum() + (~keep_r).sum())
        self.x_f = forget_val.images[keep_f][:max_images]
        self.x_r = retain_val.images[keep_r][:max_images]
        if min(len(self.x_f), len(self.x_r)) < MIN_HELD_OUT:
            raise ValueError(
                f"only {len(self.x_f)} forget and {len(self.x_r)} retained validation digits are not copies of "
                f"training digits ({self.dropped} copies dropped); the loop needs at least {MIN_HELD_OUT} of each "
                "to watch. Split the data so that copies of one image stay on one side (benchmarks/layouts.py "
                "shows how), or raise cfg.val_fraction")
        self.base_retain = self.retain_mse(teacher)

    @torch.no_grad()
    def evidence(self, model: MAE) -> float:
        """The witness's mean belief that a held-out forget digit's reconstruction shows some forget digit."""
        belief = self.net(model.eval()(self.x_f).float().clamp(-1, 1)).float().softmax(1)
        return belief[:, self.forget].sum(1).mean().item()

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


# Why the loop stopped (`UnlearnHistory.stop_reason`).
EVIDENCE_GONE, BUDGET, NON_FINITE, NO_STRENGTH, ALREADY_GONE = (
    "evidence_gone", "budget", "non_finite", "strength_0", "already_gone")


@dataclass
class UnlearnHistory:
    """What the loop measured at each check (held-out digits), which weights it kept, why it stopped."""

    method: str = "evidence"
    strength: float = 1.0
    target: float = 0.0  # stop once the witness's belief in a forget digit is at most this
    tolerance: float = 0.0  # the guard: retained MSE at most (1 + tolerance) x the original's
    step: list[int] = field(default_factory=list)
    evidence: list[float] = field(default_factory=list)  # witness: mean belief that a held-out forget digit's
    # reconstruction shows some forget digit
    retain_ratio: list[float] = field(default_factory=list)  # held-out retained MSE / original's
    mse_forget: list[float] = field(default_factory=list)  # held-out forget digits' reconstruction MSE
    lr: list[float] = field(default_factory=list)  # the learning rate up to each check (the controller's speed)
    forget_weight: list[float] = field(default_factory=list)  # w up to each check (the controller's balance)
    reverts: list[int] = field(default_factory=list)  # checks that found the weights outside the guard
    kept_step: int = 0  # the check whose weights were returned
    steps: int = 0  # unlearning steps taken
    stop_reason: str = ""  # one of EVIDENCE_GONE, BUDGET, NON_FINITE, NO_STRENGTH, ALREADY_GONE
    stopped: str = ""  # the same, in words
    dropped_copies: int = 0  # validation images left out because a training image has the same pixels
    seconds: float = 0.0  # wall time of the whole call: fitting the readers, steps, checks

    def record(self, step: int, evidence: float, retain_ratio: float, mse_forget: float, lr: float,
               weight: float) -> None:
        """Append one check's measurements."""
        self.step.append(step)
        self.evidence.append(evidence)
        self.retain_ratio.append(retain_ratio)
        self.mse_forget.append(mse_forget)
        self.lr.append(lr)
        self.forget_weight.append(weight)

    def to_dict(self) -> dict:
        """Plain dict, JSON-able."""
        return asdict(self)


# ----------------------------------------------------------------------------- the loop


def batches(cfg: Config, all_digits: bool, device) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless (x_forget, y_forget, x_retain, y_retain) batches from the training splits, reshuffled each pass.

    `cfg.forget_batch` forget digits come with `cfg.retain_batch` retained ones: the retained
    digits are what the step must not disturb, and a bigger batch holds them in place.
    `all_digits`: batches of `cfg.forget_batch` images of all digits split by label, as the research code drew them.
    """
    forget, retain = split_digits(cfg.forget_digits)
    if all_digits:
        loader = loaders_for(replace(cfg, batch_size=cfg.forget_batch), None, device).train
        is_forget = torch.isin(torch.arange(10), torch.tensor(forget)).to(loader.dataset.targets.device)
        while True:
            for x, y in loader:
                m = is_forget[y]
                yield x[m], y[m], x[~m], y[~m]
    forget_loader = loaders_for(replace(cfg, batch_size=cfg.forget_batch), forget, device).train
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


def frozen(model: MAE, device) -> MAE:
    """A frozen copy on `device` in eval mode: the caller's network is neither moved nor switched."""
    return copy.deepcopy(model).to(device).eval().requires_grad_(False)


class Players:
    """The student and its frozen references, the readers, the two optimizers and the batches: one `step()`."""

    def __init__(self, model: MAE, aux: MAE, loss_fn: Callable, cfg: Config, device, learn: bool,
                 all_digits: bool):
        _, retain = split_digits(cfg.forget_digits)
        self.cfg, self.loss_fn, self.device, self.learn = cfg, loss_fn, device, learn
        self.student = copy.deepcopy(model).to(device).train()
        torch.manual_seed(cfg.seed)  # the reader's first weights
        reader = PictureReader().to(device)
        retain_mask = torch.isin(torch.arange(10), torch.tensor(retain)).to(device)
        self.s = UnlearnState(self.student, reader, frozen(aux, device), frozen(model, device), cfg.forget_weight,
                              retain_mask, beta=ORIGINAL_BETA * cfg.strength)
        self.q_opt = torch.optim.Adam([*self.student.q_layers.parameters(), *reader.parameters()], lr=cfg.q_lr)
        self.fresh_optimizer()
        self.feed = batches(cfg, all_digits, device)

    def fresh_optimizer(self) -> None:
        """A new Adam for the autoencoder: no momentum from a trajectory the loop has left."""
        self.mae_opt = torch.optim.Adam(self.student.autoencoder_parameters(), lr=self.cfg.unlearn_lr)

    def step(self, lr: float, forget_weight: float) -> bool:
        """One step of each player: learn (the readers), then unlearn (the autoencoder at `lr`, w = `forget_weight`).

        False, and no change to the autoencoder, when its loss is not finite.
        """
        x_f, y_f, x_r, y_r = next(self.feed)
        self.s.forget_weight = forget_weight
        if self.learn:  # as many retained digits as forget digits: the readers favour neither group
            learn_step(self.s, self.q_opt, torch.cat([x_f, x_r[: len(x_f)]]), torch.cat([y_f, y_r[: len(x_f)]]))
        self.s.labels = torch.cat([y_f, y_r])
        self.student.train()
        with autocast_for(self.device, self.cfg.precision):
            loss = self.loss_fn(self.s, x_f, x_r, self.cfg)
        if not torch.isfinite(loss):
            return False
        for group in self.mae_opt.param_groups:
            group["lr"] = lr
        self.mae_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.mae_opt.step()
        return True

    def weights(self) -> dict:
        """A copy of the student's current weights."""
        return copy.deepcopy(self.student.state_dict())


class Checked(NamedTuple):
    """Weights a check saw inside the guard, and what the witness saw in them."""

    step: int
    weights: dict
    evidence: float


def controlled_loop(p: Players, witness: Witness, cfg: Config, history: UnlearnHistory, bar) -> None:
    """Push until the witness finds no evidence or the budget is spent; return only checked weights inside the guard.

    The whole controller is here, in the order it acts (the module docstring says why).
    """
    target, tolerance = history.target, history.tolerance
    evidence, ratio = witness.evidence(p.student), witness.retain_ratio(p.student)
    w, step, ramp_from = cfg.forget_weight, 0, 0  # the push starts gentle: small w, and a ramp for the rate
    history.record(0, evidence, ratio, witness.forget_mse(p.student), 0.0, w)
    kept = inside = Checked(0, p.weights(), evidence)  # the least evidence so far, and the latest check inside
    met = 0 if evidence > target else CONFIRMATIONS  # checks in a row that met the target (none needed at step 0)
    while met < CONFIRMATIONS and step < cfg.unlearn_max_steps:
        lr = cfg.unlearn_lr * min(1.0, (step - ramp_from + 1) / cfg.ramp_steps)
        if not p.step(lr, w):
            history.stop_reason = NON_FINITE
            history.stopped = f"non-finite loss at step {step + 1}; lower cfg.unlearn_lr"
            break
        step += 1
        bar.update(1)
        if step % cfg.check_every and step < cfg.unlearn_max_steps:
            continue
        evidence, ratio = witness.evidence(p.student), witness.retain_ratio(p.student)
        history.record(step, evidence, ratio, witness.forget_mse(p.student), lr, w)
        if ratio > 1 + tolerance:  # outside the guard: back to the last weights inside it, gentler
            history.reverts.append(step)
            p.student.load_state_dict(inside.weights)
            p.fresh_optimizer()
            w, ramp_from, met = 0.5 * w, step, 0  # a new ramp; weights outside the guard never count
            continue
        inside = Checked(step, p.weights(), evidence)
        kept = inside if evidence < kept.evidence else kept
        met = met + 1 if evidence <= target else 0
        if ratio < 1 + 0.5 * tolerance:  # room to spare: more weight on forgetting
            w = min(1.5 * w, FORGET_WEIGHT_CAP * cfg.forget_weight)
        elif ratio > 1 + 0.8 * tolerance:  # close to the guard: more weight on keeping
            w = 0.7 * w
    p.student.load_state_dict(kept.weights)
    history.kept_step, history.steps = kept.step, step
    if history.stop_reason:
        return
    share = f"the witness's belief in a forget digit is {kept.evidence:.1%}"
    if met >= CONFIRMATIONS and step == 0:
        history.stop_reason = ALREADY_GONE
        history.stopped = (f"nothing to do: before any step {share}, at most the target {target:.1%} of strength "
                           f"{history.strength:g}; raise the strength to forget more")
    elif met >= CONFIRMATIONS:
        history.stop_reason, history.stopped = EVIDENCE_GONE, f"evidence gone at step {step}; kept step " \
                                                              f"{kept.step}, where {share}"
    else:
        history.stop_reason = BUDGET
        history.stopped = f"step budget ({cfg.unlearn_max_steps}) used up; kept step {kept.step}, where {share}"


@torch.no_grad()
def research_val_loss(model: MAE, aux: MAE, images: torch.Tensor) -> float:
    """The research code's validation loss: MSE(out, x) + 1 / (MSE(out, aux_out) + 1e-8), beta left out."""
    out = model.eval()(images)
    return (F.mse_loss(out, images) + 1 / (F.mse_loss(out, aux(images)) + 1e-8)).item()


def research_loop(p: Players, witness: Witness, cfg: Config, history: UnlearnHistory, bar) -> None:
    """The research code's rules: the whole budget at a constant rate; keep the checked weights of lowest val loss."""
    val = torch.cat([witness.x_f, witness.x_r])  # held-out digits of both groups, as the research code validated
    history.record(0, witness.evidence(p.student), witness.retain_ratio(p.student), witness.forget_mse(p.student),
                   0.0, 0.0)
    kept, best = Checked(0, p.weights(), history.evidence[0]), research_val_loss(p.student, p.s.aux, val)
    for step in range(1, cfg.unlearn_max_steps + 1):
        if not p.step(cfg.unlearn_lr, 0.0):
            history.stop_reason = NON_FINITE
            history.stopped = f"non-finite loss at step {step}; lower the strength or cfg.unlearn_lr"
            break
        bar.update(1)
        history.steps = step
        if step % cfg.check_every == 0 or step == cfg.unlearn_max_steps:
            history.record(step, witness.evidence(p.student), witness.retain_ratio(p.student),
                           witness.forget_mse(p.student), cfg.unlearn_lr, 0.0)
            if (value := research_val_loss(p.student, p.s.aux, val)) < best:
                kept, best = Checked(step, p.weights(), history.evidence[-1]), value
    p.student.load_state_dict(kept.weights)
    history.kept_step = kept.step
    if not history.stop_reason:
        history.stop_reason = BUDGET
        history.stopped = f"step budget used up; kept step {kept.step}, the lowest validation loss"


def check_aux(model: MAE, aux: MAE) -> None:
    """The auxiliary network must have the main model's architecture (its outputs are compared)."""
    if getattr(aux, "config", None) != getattr(model, "config", None):
        raise ValueError(
            f"the auxiliary model's architecture {getattr(aux, 'config', type(aux).__name__)} differs from the "
            f"main model's {getattr(model, 'config', type(model).__name__)}; train it with train_auxiliary() "
            "using the same config"
        )


def unlearn(model: MAE, aux: MAE, cfg: Config | None = None, method: str | Callable = "evidence", device=None,
            progress: bool = True, witness_net: torch.nn.Module | None = None) -> tuple[MAE, UnlearnHistory]:
    """Return an unlearned copy of `model` (the original and `aux` are untouched) and what the loop measured.

    Every setting comes from `cfg`: the digits to forget, the strength, the budget and the
    stopping rule (module docstring). `method` is a name in `LOSSES` or your own
    `loss(s, x_forget, x_retain, cfg) -> tensor` (see `loss_evidence`), run by the same loop.
    `witness_net`: the witness's classifier (default: `train_witness(model, cfg)`, cached).
    """
    cfg = get_config() if cfg is None else cfg
    loss_fn = method if callable(method) else LOSSES.get(method)
    if loss_fn is None:
        raise ValueError(f"method must be one of {METHODS} or a loss function f(s, x_f, x_r, cfg); got {method!r}")
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    check_aux(model, aux)  # every number in cfg was range-checked when the Config was made
    strength, device, tic = cfg.strength, resolve_device(device), time.perf_counter()
    forget, retain = split_digits(cfg.forget_digits)
    target = min(1.0, cfg.forget_target / strength) if strength else 0.0
    history = UnlearnHistory(method=name, strength=strength, target=target, tolerance=cfg.retain_tolerance * strength)
    if strength == 0:  # the one dial at zero: nothing changes, whatever the method
        history.stop_reason, history.stopped = NO_STRENGTH, "strength 0: no unlearning"
        return copy.deepcopy(model).to(device).eval(), history
    research = name == "original"
    p = Players(model, aux, loss_fn, cfg, device, learn=callable(method) or name in READS, all_digits=research)
    everything = loaders_for(cfg, None, device)
    if p.learn:  # the readers start able to read the original's codes and drawings
        fit_readers(p.s, p.q_opt, everything.train.dataset.images, everything.train.dataset.targets,
                    cfg.q_fit_steps, cfg.retain_batch, cfg.seed)
    witness = Witness(witness_net if witness_net is not None else train_witness(model, cfg, device, progress=False),
                      p.s.teacher, loaders_for(cfg, forget, device).val.dataset,
                      loaders_for(cfg, retain, device).val.dataset, everything.train.dataset.images, forget,
                      cfg.witness_images)
    history.dropped_copies = witness.dropped
    with tqdm(total=cfg.unlearn_max_steps, desc=f"unlearn ({name})", unit="step", disable=not progress) as bar:
        (research_loop if research else controlled_loop)(p, witness, cfg, history, bar)
    if history.stop_reason == NON_FINITE:
        print(history.stopped, file=sys.stderr)
    history.seconds = time.perf_counter() - tic
    return p.student.eval(), history


# ----------------------------------------------------------------------------- the other networks


def train_auxiliary(forget_digits, cfg: Config | None = None, device=None, progress: bool = True) -> tuple[MAE, dict]:
    """An MAE trained only on the forget digits (cached like every trained model)."""
    forget, _ = split_digits(forget_digits)
    return train_cached("auxiliary", forget, cfg, device=device, progress=progress)


def retrain(forget_digits, cfg: Config | None = None, device=None, progress: bool = True, replica: int = 0,
            train: bool = True) -> tuple[MAE, dict]:
    """The gold standard: a fresh MAE trained only on the retained digits, with the original's number of steps.

    `replica` 0 and 1 are two retrains from their own seeds (neither the original's): how far
    apart two honest retrains land is the yardstick for "indistinguishable".
    """
    _, retain = split_digits(forget_digits)
    return train_cached("retrained" if replica == 0 else f"retrained-{replica + 1}", retain, cfg, device=device,
                        progress=progress, train=train, run_seed=RETRAIN_SEEDS[replica], same_steps=True)


RETRAIN_SEEDS = (1, 2)  # offsets to cfg.seed for the weights and the batch order of the two retrains
