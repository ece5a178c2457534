"""Unlearning: make a trained MAE forget some digits while it keeps reconstructing the rest.

Each step plays two moves on one batch of forget digits and one of retained digits, from one
forward pass of the autoencoder (the *student*) over both:

  learn    the readers take one Adam step on the student's current drawings and codes, cut from
           the graph: two small CNNs (`PictureReader`) learn to name the digit in the drawings,
           and the three Q-layers (linear heads on the codes) learn to name it from the codes.
           They find the evidence;
  unlearn  the student takes one Adam step on `loss(s, x_forget, x_retain, cfg)` with the
           readers frozen: keep the retained digits, leave the readers no forget digit.

The losses (`LOSSES`) are functions you can read or replace; the same loop runs them all. A
loss reads the step's drawings from `s` (`s.out_f`, `s.out_r`: the student's, with gradient;
`s.teacher_r`: the original's drawings of the retained digits; `s.aux_f`: the auxiliary
network's drawings of the forget digits):

* "evidence" (default): keep = MSE(out_r, x_r) + distill * MSE(out_r, teacher_r),
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

What a run pays, and what it does not pay again. The frozen networks draw each training image
once, not once per step: the original's drawings of every training image once per original
model (`original_drawings`, kept in memory), the auxiliary network's drawings of the forget
digits once per run. The readers are fitted to the original once per original model and
cached (`train_readers`), like the witness (`witness.train_witness`): neither depends on the
digits to forget. Every network runs with channels-last weights (the same numbers, faster
convolutions on a CPU).

When to stop matters more than the loss (pushed too long, any of them wrecks every digit),
so the loop controls itself and nothing in it grows with the data set:

* a budget of `cfg.unlearn_max_steps` steps, not epochs over the forget digits;
* a witness that takes no part in the game (witness.py): two CNNs of other architectures than
  the readers', trained on the real training digits and the original's reconstructions of
  them (a digit is seen when either sees it; not a referee). Every `cfg.check_every` steps it
  reads the reconstructions of held-out forget digits; its mean belief that they show *any*
  forget digit (a 0 redrawn as a 9 is not forgotten when 9 goes too) is the evidence;
* the stop, relative to what the witness can tell at all: before the game, it reads the
  original's drawings of the held-out *retained* digits, and its belief in a forget digit
  there is its false-alarm rate (`Witness.false_alarms`: 0.4-1.5% for one digit at 8k, 5-6%
  for 0 3 6 9, 7% on the offline digits). The evidence is gone when it is at most
  `cfg.evidence_margin x false alarms / strength` at CONFIRMATIONS checks in a row: the
  forget digits' drawings then show a forget digit about as rarely as drawings that never
  held one. A fixed target could not be both: 3% sat below the offline witness's false
  alarms (the loop never stopped), and far above one digit's at 8k (it stopped on a lucky
  look while an independent judge still named 18% of the 8s; benchmarks/results). Two
  checks in a row, not one: a single look is noise;
* a guard on the retained digits: their held-out MSE may rise by at most
  `cfg.retain_tolerance x strength`. Weights a check finds outside it are never returned;
* held out means no copy of the image is in the training split: the witness and the guard
  drop validation images whose exact pixels are a training image's;
* a controller for the push, which starts gentle and grows only into the room the guard
  leaves. The learning rate ramps up from zero over `cfg.ramp_steps`, and the forgetting
  weight w starts small (`cfg.forget_weight`): at the original's weights the keep terms
  have almost no gradient, so Adam, whose steps have full size whatever the gradient's
  scale, would otherwise spend its first steps on forgetting alone and leave the guard. At
  each check inside the guard, w grows while the retained MSE is in the lower half of the
  tolerance and shrinks above 80% of it. A check outside the guard sends the model back to
  the last weights inside it, with fresh Adam moments, half the weight and a new ramp.

The loop returns the checked weights inside the guard where the witness saw the least
evidence, and what it decided (`Decision`: the kept check, the steps taken, the `StopReason`).
Strength is the one dial: it sets how little evidence may remain *and* how much the retained
digits may pay for it; 0 returns an unchanged copy, whatever the method.

"original" keeps the research run's rules instead (`research_loop`): no witness stop, no
guard; the whole budget at a constant learning rate, returning the checked weights with the
lowest validation loss computed as the research code did (the 1 / MSE term without beta).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import cache
from .common import CHUNK, conv_block, inference
from .config import Config, get_config, resolve_device, split_digits
from .data import loaders_for
from .model import MAE, MAEOutputs, weights_digest
from .train import autocast_for
from .witness import Witness, channels_last, train_witness

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


def keep_retained(s, x_r: torch.Tensor, cfg: Config) -> torch.Tensor:
    """Redraw the retained digits, and stay close to what the original model drew for them."""
    return F.mse_loss(s.out_r, x_r) + cfg.distill_weight * F.mse_loss(s.out_r, s.teacher_r)


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
    evidence = forget_evidence((read_picture(s, s.out_f),), s.retain_mask)
    push = repulsion(s.out_f, s.aux_f, cfg.repel_tau)
    return keep_retained(s, x_r, cfg) + s.forget_weight * (evidence + push)


def loss_evidence_codes(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The evidence loss, hiding the digit from the three Q-layers on the codes as well as from the reader."""
    evidence = forget_evidence((*frozen_heads(s.model, s.codes_f), read_picture(s, s.out_f)), s.retain_mask)
    push = repulsion(s.out_f, s.aux_f, cfg.repel_tau)
    return keep_retained(s, x_r, cfg) + s.forget_weight * (evidence + push)


def loss_repel(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The evidence loss without the readers: keep the retained digits, push forget drawings away (bounded)."""
    return keep_retained(s, x_r, cfg) + s.forget_weight * repulsion(s.out_f, s.aux_f, cfg.repel_tau)


def loss_finetune(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """Fine-tune on the retained digits only (the NeurIPS 2023 unlearning challenge's starting-kit baseline)."""
    return F.mse_loss(s.out_r, x_r)


NEGGRAD_CAP = 0.5  # per image: ascend a forget digit's MSE only up to ~5x a good reconstruction's error


def loss_neggrad(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """NegGrad+ (Kurmanji et al., NeurIPS 2023): descend on retained MSE, ascend on forget MSE (capped per image)."""
    ascent = (s.out_f - x_f).pow(2).flatten(1).mean(1).clamp(max=NEGGRAD_CAP).mean()
    return F.mse_loss(s.out_r, x_r) - s.forget_weight * ascent


def loss_original(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The research code's loss on a batch of all digits: MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8)."""
    x, out, aux_out = torch.cat([x_f, x_r]), torch.cat([s.out_f, s.out_r]), torch.cat([s.aux_f, s.aux_r])
    return F.mse_loss(out, x) + s.beta / (F.mse_loss(out, aux_out) + 1e-8)


LOSSES: dict[str, Callable] = {"evidence": loss_evidence, "evidence_codes": loss_evidence_codes, "repel": loss_repel,
                               "finetune": loss_finetune, "neggrad": loss_neggrad, "original": loss_original}
METHODS = tuple(LOSSES)
READS = ("evidence", "evidence_codes")  # methods whose loss reads the readers: only they play the learning move
ORIGINAL_BETA = 0.1  # the research code's beta; strength scales it


# ----------------------------------------------------------------------------- the readers


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


class Readers(nn.Module):
    """The learning player: the picture reader on the drawings and three Q-layers on the codes (`train_readers`)."""

    def __init__(self, code_widths: tuple[int, int, int] = (112, 10, 112)):
        super().__init__()
        self.config = dict(code_widths=[int(w) for w in code_widths])  # rebuilds it from a checkpoint
        self.picture = PictureReader()
        self.q_layers = nn.ModuleList(nn.Linear(w, 10) for w in self.config["code_widths"])


def codes(outs: MAEOutputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three codes the Q-layers read, in Q_LAYER_NAMES order."""
    return outs.encoded, outs.bottleneck, outs.decoder_input


@torch.no_grad()
def codes_of(model: MAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three codes the Q-layers read (encoded, bottleneck, decoder_input), without the decoder."""
    encoded = model.encoder(x)
    bottleneck = model.dense(encoded)
    return encoded, bottleneck, model.undense(bottleneck)


def reader_step(q_layers: nn.ModuleList, picture: nn.Module, optimizer, drawings: torch.Tensor,
                code_list: tuple[torch.Tensor, ...], labels: torch.Tensor) -> float:
    """One step of the learning player: the Q-layers name the digit from the codes, the picture reader from the
    drawings. Both are cut from the autoencoder's graph, so only the readers learn."""
    loss = sum(F.cross_entropy(q(c.detach().float()), labels) for q, c in zip(q_layers, code_list)) / 3
    loss = loss + F.cross_entropy(picture(drawings.detach().float()), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


READERS_KEY = "readers"


def train_readers(model: MAE, cfg: Config | None = None, device=None, train: bool = True) -> Readers:
    """The readers fitted to `model` (the original) on its drawings and codes of the training digits, then cached.

    `cfg.q_fit_steps` learning steps of `cfg.retain_batch` random training digits of all ten.
    It does not depend on the digits to forget, so every forget set of one original shares it.
    `train=False` raises `NotCached` instead of fitting.
    """
    cfg = get_config() if cfg is None else cfg
    loaders = loaders_for(cfg, None, device)
    images, labels = loaders.train.dataset.images, loaders.train.dataset.targets
    widths = (model.config["channels"][2], model.config["code_dim"], model.config["channels"][2])
    key = cache.network_key(READERS_KEY, cfg, loaders, {"steps": cfg.q_fit_steps, "batch": cfg.retain_batch,
                                                        "lr": cfg.q_lr, "reads": weights_digest(model.state_dict())})
    path = cache.cached_path(READERS_KEY, key)
    arch = {"code_widths": list(widths)}
    readers = cache.load_cached(path, key, lambda f: cache.load_classifier(f, Readers, arch), train)
    if readers is not None:
        return readers.to(images.device)
    if not train:
        raise cache.not_cached(READERS_KEY, f"data {key['data']}")
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # their first weights from cfg.seed; the caller's stream untouched
        torch.manual_seed(cfg.seed)
        readers = Readers(widths).to(images.device)
    readers.q_layers.load_state_dict(model.q_layers.state_dict())  # the original's heads, untrained so far
    readers = channels_last(readers).train()
    teacher = channels_last(copy.deepcopy(model)).to(images.device)
    optimizer = torch.optim.Adam(readers.parameters(), lr=cfg.q_lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.q_fit_steps):
        pick = torch.randint(len(labels), (cfg.retain_batch,), generator=generator).to(labels.device)
        with inference(teacher):
            outs = teacher.forward_all(images[pick])
        reader_step(readers.q_layers, readers.picture, optimizer, outs.reconstruction, codes(outs), labels[pick])
    readers = readers.to(memory_format=torch.contiguous_format).eval()
    readers.metadata = {"key": key, "seconds": time.perf_counter() - start}
    cache.save_cached(readers, path, **readers.metadata)
    return readers


# ----------------------------------------------------------------------------- what the frozen networks draw


def draw(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """`net`'s drawings of `images`, in fixed chunks (so the same numbers whatever else is drawn), as float32."""
    with inference(net):
        return torch.cat([net(x).float() for x in images.split(CHUNK)]) if len(images) else images.float()


_ORIGINAL_DRAWINGS: dict = {}  # (weights digest, id of the images) -> (the images, their drawings): one entry


def original_drawings(model: MAE, images: torch.Tensor) -> torch.Tensor:
    """The original's drawings of every training image: drawn once per original model, then kept in memory.

    They do not depend on the digits to forget, so every run over the same original shares them.
    The entry holds the images too, so that their id cannot be reused by other images while it lives.
    """
    key = (weights_digest(model.state_dict()), id(images))
    if key not in _ORIGINAL_DRAWINGS:
        _ORIGINAL_DRAWINGS.clear()  # one original at a time: 150 MB at full-MNIST scale
        _ORIGINAL_DRAWINGS[key] = images, draw(channels_last(copy.deepcopy(model)).to(images.device), images)
    return _ORIGINAL_DRAWINGS[key][1]


# ----------------------------------------------------------------------------- the game


def index_batches(indices: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless batches of `indices`, reshuffled on each pass.

    A pass's last, smaller batch is left out (the next pass reshuffles, so no image is left out
    for long): a step on three forget digits is noise, and every step of the same size reuses
    the same compiled kernels. A pass smaller than one batch is one batch.
    """
    while True:
        order = indices[torch.randperm(len(indices), generator=generator).to(indices.device)]
        whole = len(order) // batch_size * batch_size or len(order)
        yield from order[:whole].split(batch_size)


class Game:
    """One unlearning run's players and their batches: the one owner of the student.

    A loss function receives the game as `s`: `s.model` (the student, being changed),
    `s.reader`, `s.forget_weight` (w), `s.retain_mask`, `s.beta`, and this step's
    `s.out` (the student's forward pass over forget then retained digits, with gradient),
    `s.out_f` / `s.out_r` (its drawings), `s.codes_f`, `s.teacher_r` (the original's
    drawings of the retained digits) and `s.aux_f` / `s.aux_r` (the auxiliary network's).
    `step(lr, w)` plays both moves. The global random stream is never used: the batches come
    from a generator seeded by `cfg.seed`, and the readers arrive fitted.
    """

    def __init__(self, model: MAE, aux: MAE, readers: Readers | None, loss_fn: Callable, cfg: Config, device,
                 all_digits: bool, data=None):
        forget, retain = split_digits(cfg.forget_digits)
        data = loaders_for(cfg, None, device).train.dataset if data is None else data  # the training split
        self.images, self.labels, self.cfg, self.loss_fn, self.device = data.images, data.targets, cfg, loss_fn, device
        is_forget = torch.isin(self.labels, torch.tensor(forget, device=self.labels.device))
        self.retain_mask = torch.isin(torch.arange(10), torch.tensor(retain)).to(device)
        self.beta = ORIGINAL_BETA * cfg.strength
        self.student = channels_last(copy.deepcopy(model)).to(device).train()
        self.reader, self.q_opt = None, None
        if readers is not None:  # the learning player, fitted to the original (train_readers)
            self.reader = channels_last(copy.deepcopy(readers.picture)).to(device).train()
            self.student.q_layers.load_state_dict(readers.q_layers.state_dict())
            self.q_opt = torch.optim.Adam([*self.student.q_layers.parameters(), *self.reader.parameters()],
                                          lr=cfg.q_lr)
        self.fresh_optimizer()
        self.teacher = channels_last(copy.deepcopy(model)).to(device).eval().requires_grad_(False)
        self.aux = channels_last(copy.deepcopy(aux)).to(device).eval().requires_grad_(False)
        self.teacher_drawings = original_drawings(model, self.images)
        drawn_by_aux = torch.arange(len(self.labels), device=self.labels.device) if all_digits else \
            is_forget.nonzero().squeeze(1)
        self.aux_drawings = torch.empty_like(self.images)  # only the rows the loss can ask for are drawn
        self.aux_drawings[drawn_by_aux] = draw(self.aux, self.images[drawn_by_aux])
        self.feed = self._batches(is_forget, all_digits)
        self.forget_weight = cfg.forget_weight

    def _batches(self, is_forget: torch.Tensor, all_digits: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless (forget indices, retained indices) of the training split, from a generator seeded by cfg.seed.

        `cfg.forget_batch` forget digits come with `cfg.retain_batch` retained ones: the retained
        digits are what the step must not disturb, and a bigger batch holds them in place.
        `all_digits`: batches of `cfg.forget_batch` images of all digits split by label, as the research code drew.
        """
        generator = torch.Generator().manual_seed(self.cfg.seed)
        everything = torch.arange(len(self.labels), device=self.labels.device)
        if all_digits:
            for batch in index_batches(everything, self.cfg.forget_batch, generator):
                yield batch[is_forget[batch]], batch[~is_forget[batch]]
        forget_batches = index_batches(everything[is_forget], self.cfg.forget_batch, generator)
        retain_batches = index_batches(everything[~is_forget], self.cfg.retain_batch, generator)
        yield from zip(forget_batches, retain_batches)

    def fresh_optimizer(self) -> None:
        """A new Adam for the autoencoder: no momentum from a trajectory the loop has left."""
        self.mae_opt = torch.optim.Adam(self.student.autoencoder_parameters(), lr=self.cfg.unlearn_lr)

    @property
    def model(self) -> MAE:
        """The student: the copy of the original that the game changes."""
        return self.student

    def step(self, lr: float, forget_weight: float) -> bool:
        """One step of each player: learn (the readers), then unlearn (the autoencoder at `lr`, w = `forget_weight`).

        False, and no change to the autoencoder, when its loss is not finite.
        """
        idx_f, idx_r = next(self.feed)
        x_f, x_r, n = self.images[idx_f], self.images[idx_r], len(idx_f)
        self.forget_weight = forget_weight
        self.student.train()
        with autocast_for(self.device, self.cfg.precision):
            self.out = self.student.forward_all(torch.cat([x_f, x_r]))
        self.out_f, self.out_r = self.out.reconstruction[:n].float(), self.out.reconstruction[n:].float()
        if self.reader is not None:  # as many retained digits as forget digits: the readers favour neither group
            both = torch.cat([torch.arange(n), n + torch.arange(min(n, len(idx_r)))]).to(self.out_f.device)
            labels = torch.cat([self.labels[idx_f], self.labels[idx_r]])[both]
            reader_step(self.student.q_layers, self.reader, self.q_opt, self.out.reconstruction[both],
                        tuple(c[both] for c in codes(self.out)), labels)
        self.codes_f = tuple(c[:n] for c in codes(self.out))
        self.teacher_r = self.teacher_drawings[idx_r]
        self.aux_f, self.aux_r = self.aux_drawings[idx_f], self.aux_drawings[idx_r]
        with autocast_for(self.device, self.cfg.precision):
            loss = self.loss_fn(self, x_f, x_r, self.cfg)
        if not torch.isfinite(loss):
            return False
        for group in self.mae_opt.param_groups:
            group["lr"] = lr
        self.mae_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.mae_opt.step()
        return True

    def weights(self) -> dict:
        """A copy of the student's current weights (a snapshot to return to)."""
        return {name: value.detach().clone() for name, value in self.student.state_dict().items()}


# ----------------------------------------------------------------------------- what the loop decides


class StopReason(str, Enum):
    """Why the loop stopped (a str, so metrics.json holds the plain word)."""

    EVIDENCE_GONE = "evidence_gone"  # the witness found no more evidence than the target, at checks in a row
    BUDGET = "budget"  # the step budget was spent
    NON_FINITE = "non_finite"  # the loss was not a finite number
    NO_STRENGTH = "strength_0"  # strength 0: nothing to do
    ALREADY_GONE = "already_gone"  # the evidence was within the target before any step

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Decision(NamedTuple):
    """What the loop decided: the check whose weights it returns, how many steps it took, and why it stopped."""

    kept_step: int
    steps: int
    reason: StopReason


@dataclass
class UnlearnHistory:
    """What the loop measured at each check (held-out digits), which weights it kept, why it stopped."""

    method: str = "evidence"
    strength: float = 1.0
    target: float = 0.0  # stop once the witness's belief in a forget digit is at most this
    false_alarms: float = 0.0  # the witness's belief in a forget digit in the original's drawings of retained digits
    tolerance: float = 0.0  # the guard: retained MSE at most (1 + tolerance) x the original's
    budget: int = 0  # the most steps the loop may take
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
    stop_reason: StopReason | None = None
    dropped_copies: int = 0  # validation images left out because a training image has the same pixels
    seconds: float = 0.0  # wall time of the run: the frozen networks' drawings, steps and checks

    def record(self, step: int, evidence: float, retain_ratio: float, mse_forget: float, lr: float,
               weight: float) -> None:
        """Append one check's measurements."""
        self.step.append(step)
        self.evidence.append(evidence)
        self.retain_ratio.append(retain_ratio)
        self.mse_forget.append(mse_forget)
        self.lr.append(lr)
        self.forget_weight.append(weight)

    def decide(self, decision: Decision) -> None:
        """Record what the loop decided."""
        self.kept_step, self.steps, self.stop_reason = decision

    @property
    def stopped(self) -> str:
        """Why the loop stopped, in words (made from the history, so it always agrees with it)."""
        reason = self.stop_reason
        if reason is None:
            return "not run"
        kept = self.evidence[self.step.index(self.kept_step)] if self.kept_step in self.step else None
        share = f"the witness's belief in a forget digit is {kept:.1%}" if kept is not None else ""
        return {
            StopReason.NO_STRENGTH: "strength 0: no unlearning",
            StopReason.NON_FINITE: f"non-finite loss at step {self.steps + 1}; lower cfg.unlearn_lr or the strength",
            StopReason.ALREADY_GONE: f"nothing to do: before any step {share}, at most the target {self.target:.1%} "
                                     f"of strength {self.strength:g}; raise the strength to forget more",
            StopReason.EVIDENCE_GONE: f"evidence gone at step {self.steps}; kept step {self.kept_step}, where {share} "
                                      f"(target {self.target:.1%}: the witness's false alarms "
                                      f"{self.false_alarms:.1%} x {self.target / max(self.false_alarms, 1e-12):.3g})",
            StopReason.BUDGET: f"step budget ({self.budget}) used up; kept step {self.kept_step}, where {share}"
            if self.method != "original" else f"step budget ({self.budget}) used up; kept step {self.kept_step}, "
                                              "the lowest validation loss",
        }[reason]

    def to_dict(self) -> dict:
        """Plain dict, JSON-able; `stopped` holds the words."""
        return {**asdict(self), "stop_reason": None if self.stop_reason is None else self.stop_reason.value,
                "stopped": self.stopped}


# ----------------------------------------------------------------------------- the loop


CONFIRMATIONS = 2  # checks in a row that must meet the target: one lucky look is not enough
FORGET_WEIGHT_GROWTH = 1.5  # w x this at a check with room to spare (and x 0.7 close to the guard)
FORGET_WEIGHT_CAP = 64  # the controller keeps w within this multiple of cfg.forget_weight
ROOM, CLOSE = 0.5, 0.8  # "room to spare": the retained ratio uses less than ROOM of the tolerance; "close": above CLOSE


class Checked(NamedTuple):
    """Weights a check saw inside the guard, and what the witness saw in them."""

    step: int
    weights: dict
    evidence: float


def controlled_loop(game: Game, witness: Witness, cfg: Config, history: UnlearnHistory, bar) -> Decision:
    """Push until the witness finds no evidence or the budget is spent; keep only checked weights inside the guard.

    The whole controller is here, in the order it acts (the module docstring says why).
    Returns what it decided; the student then holds the kept weights.
    """
    target, tolerance = history.target, history.tolerance
    look = witness.look(game.student)
    w, step, ramp_from = cfg.forget_weight, 0, 0  # the push starts gentle: small w, and a ramp for the rate
    history.record(0, look.evidence, look.retain_ratio, look.forget_mse, 0.0, w)
    kept = inside = Checked(0, game.weights(), look.evidence)  # the least evidence so far, and the latest inside
    met = 0 if look.evidence > target else CONFIRMATIONS  # checks in a row that met the target (none needed at 0)
    reason = None
    while met < CONFIRMATIONS and step < cfg.unlearn_max_steps:
        lr = cfg.unlearn_lr * min(1.0, (step - ramp_from + 1) / cfg.ramp_steps)
        if not game.step(lr, w):
            reason = StopReason.NON_FINITE
            break
        step += 1
        bar.update(1)
        if step % cfg.check_every and step < cfg.unlearn_max_steps:
            continue
        look = witness.look(game.student)
        history.record(step, look.evidence, look.retain_ratio, look.forget_mse, lr, w)
        if look.retain_ratio > 1 + tolerance:  # outside the guard: back to the last weights inside it, gentler
            history.reverts.append(step)
            game.student.load_state_dict(inside.weights)
            game.fresh_optimizer()
            w, ramp_from, met = 0.5 * w, step, 0  # a new ramp; weights outside the guard never count
            continue
        inside = Checked(step, game.weights(), look.evidence)
        kept = inside if look.evidence < kept.evidence else kept
        met = met + 1 if look.evidence <= target else 0
        if look.retain_ratio < 1 + ROOM * tolerance:  # room to spare: more weight on forgetting
            w = min(FORGET_WEIGHT_GROWTH * w, FORGET_WEIGHT_CAP * cfg.forget_weight)
        elif look.retain_ratio > 1 + CLOSE * tolerance:  # close to the guard: more weight on keeping
            w = 0.7 * w
    game.student.load_state_dict(kept.weights)
    if reason is None:
        reason = StopReason.BUDGET if met < CONFIRMATIONS else \
            StopReason.ALREADY_GONE if step == 0 else StopReason.EVIDENCE_GONE
    return Decision(kept.step, step, reason)


@torch.no_grad()
def research_val_loss(model: MAE, aux: MAE, images: torch.Tensor) -> float:
    """The research code's validation loss: MSE(out, x) + 1 / (MSE(out, aux_out) + 1e-8), beta left out."""
    with inference(model, aux):
        out = model(images)
        return (F.mse_loss(out, images) + 1 / (F.mse_loss(out, aux(images)) + 1e-8)).item()


def research_loop(game: Game, witness: Witness, cfg: Config, history: UnlearnHistory, bar) -> Decision:
    """The research code's rules: the whole budget at a constant rate; keep the checked weights of lowest val loss."""
    val = torch.cat([witness.x_f, witness.x_r])  # held-out digits of both groups, as the research code validated
    look = witness.look(game.student)
    history.record(0, look.evidence, look.retain_ratio, look.forget_mse, 0.0, 0.0)
    kept, best = Checked(0, game.weights(), look.evidence), research_val_loss(game.student, game.aux, val)
    step, reason = 0, StopReason.BUDGET
    while step < cfg.unlearn_max_steps:
        if not game.step(cfg.unlearn_lr, 0.0):
            reason = StopReason.NON_FINITE
            break
        step += 1
        bar.update(1)
        if step % cfg.check_every == 0 or step == cfg.unlearn_max_steps:
            look = witness.look(game.student)
            history.record(step, look.evidence, look.retain_ratio, look.forget_mse, cfg.unlearn_lr, 0.0)
            if (value := research_val_loss(game.student, game.aux, val)) < best:
                kept, best = Checked(step, game.weights(), look.evidence), value
    game.student.load_state_dict(kept.weights)
    return Decision(kept.step, step, reason)


def check_aux(model: MAE, aux: MAE) -> None:
    """The auxiliary network must have the main model's architecture (its outputs are compared)."""
    if getattr(aux, "config", None) != getattr(model, "config", None):
        raise ValueError(
            f"the auxiliary model's architecture {getattr(aux, 'config', type(aux).__name__)} differs from the "
            f"main model's {getattr(model, 'config', type(model).__name__)}; train it with train_auxiliary() "
            "using the same config"
        )


def unlearn(model: MAE, aux: MAE, cfg: Config | None = None, method: str | Callable = "evidence", device=None,
            progress: bool = True, witness_net: nn.Module | None = None,
            readers: Readers | None = None) -> tuple[MAE, UnlearnHistory]:
    """Return an unlearned copy of `model` (the original and `aux` are untouched) and what the loop measured.

    Every setting comes from `cfg`: the digits to forget, the strength, the budget and the
    stopping rule (module docstring). `method` is a name in `LOSSES` or your own
    `loss(s, x_forget, x_retain, cfg) -> tensor` (see `loss_evidence`; `Game` lists what `s`
    holds), run by the same loop. `witness_net` and `readers`: the witness's classifier and the
    readers fitted to `model` (default: `train_witness(model, cfg)` and `train_readers(model, cfg)`,
    each trained once per original and cached).
    """
    cfg = get_config() if cfg is None else cfg
    loss_fn = method if callable(method) else LOSSES.get(method)
    if loss_fn is None:
        raise ValueError(f"method must be one of {METHODS} or a loss function f(s, x_f, x_r, cfg); got {method!r}")
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    check_aux(model, aux)  # every number in cfg was range-checked when the Config was made
    device = resolve_device(device)
    forget, _ = split_digits(cfg.forget_digits)
    strength = cfg.strength
    history = UnlearnHistory(method=name, strength=strength, tolerance=cfg.retain_tolerance * strength,
                             budget=cfg.unlearn_max_steps)
    if strength == 0:  # the one dial at zero: nothing changes, whatever the method
        history.stop_reason = StopReason.NO_STRENGTH
        return copy.deepcopy(model).to(device).eval(), history
    learns = callable(method) or name in READS
    if learns and readers is None:
        readers = train_readers(model, cfg, device)
    if witness_net is None:
        witness_net = train_witness(model, cfg, device, progress=False)
    tic = time.perf_counter()
    research = name == "original"
    everything = loaders_for(cfg, None, device)  # the one place a run takes its data from
    game = Game(model, aux, readers if learns else None, loss_fn, cfg, device, research, everything.train.dataset)
    witness = Witness(witness_net, game.teacher, everything.val.dataset, everything.train.dataset.images, forget,
                      cfg.witness_images)
    history.dropped_copies, history.false_alarms = witness.dropped, witness.false_alarms
    history.target = min(1.0, cfg.evidence_margin * witness.false_alarms / strength)
    with tqdm(total=cfg.unlearn_max_steps, desc=f"unlearn ({name})", unit="step", disable=not progress) as bar:
        if research:
            decision = research_loop(game, witness, cfg, history, bar)
        else:
            decision = controlled_loop(game, witness, cfg, history, bar)
    history.decide(decision)
    if decision.reason == StopReason.NON_FINITE:
        print(history.stopped, file=sys.stderr)
    unlearned = game.student.to(memory_format=torch.contiguous_format).eval()  # as a checkpoint stores it
    history.seconds = time.perf_counter() - tic
    return unlearned, history
