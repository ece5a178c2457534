"""Unlearning: make a trained MAE forget some digits while it keeps reconstructing the rest.

Three methods, one loop (`unlearn`), each a loss you can read in `LOSSES` below:

* "original": the research code's loss, kept as the reference. On every image
      MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8)
  where aux is an MAE trained only on the forget digits. The inverse distance has a
  gradient of -beta / d^2: it explodes while the output is near the auxiliary's and
  vanishes once it is far, and it pushes retained digits away too. Unstable by design.
* "repel": a *bounded* repulsion, on forget images only,
      exp(-d / tau),   d = per-image MSE(out, aux_out)
  plus plain reconstruction of retained images. Raises forget MSE, but MSE can be
  fooled: a blurred or shifted digit is still recognisable.
* "evidence" (default): the alternating learn/unlearn loop the project is named for.
  Each step (a) trains the three Q-layers to recognise the digit from the current codes
  (they learn where the evidence lives), then (b) trains the MAE to reconstruct retained
  digits, stay close to the original model on them, and make the Q-layers' belief that
  a forget image shows *any* forget digit vanish:
      -log( sum over retained classes c of softmax(q(code))_c )
  plus the bounded repulsion. `strength` scales both forgetting terms.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .config import CONFIG, Config, resolve_device
from .data import check_digits, split_digits
from .model import MAE
from .train import autocast_for, train_cached

METHODS = ("evidence", "repel", "original")


@dataclass
class UnlearnHistory:
    """Forget/retain metrics at the start and after each unlearning epoch, plus timing."""

    method: str = "evidence"
    strength: float = 1.0
    epoch: list[int] = field(default_factory=list)
    mse_forget: list[float] = field(default_factory=list)  # on the forget loader's images
    mse_retain: list[float] = field(default_factory=list)
    q_belief_forget: list[float] = field(default_factory=list)  # Q-layers' mean p(true digit), forget images
    seconds: float = 0.0  # wall time of the unlearning itself (the monitoring above is not counted)
    stopped_early: str | None = None

    def to_dict(self) -> dict:
        """Plain dict, JSON-able."""
        return asdict(self)


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
    """The Q-layers applied with their weights detached: the MAE step must not train them."""
    return tuple(F.linear(c, q.weight.detach(), q.bias.detach()) for q, c in zip(model.q_layers, codes))


def loss_original(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """The research code's loss on all images: MSE(out, x) + beta / (MSE(out, aux_out) + 1e-8)."""
    x = torch.cat([x_f, x_r])
    out = s.model(x)
    beta = 0.1 * s.forget_weight / cfg.forget_weight  # strength 1 = the original's beta of 0.1
    return F.mse_loss(out, x) + beta / (F.mse_loss(out, s.aux_out(x)) + 1e-8)


def loss_repel(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """Reconstruct retained images; push forget reconstructions away from the auxiliary's (bounded)."""
    out = s.model(torch.cat([x_f, x_r]))
    out_f, out_r = out[: len(x_f)], out[len(x_f):]
    return F.mse_loss(out_r, x_r) + s.forget_weight * repulsion(out_f, s.aux_out(x_f), cfg.repel_tau)


def loss_evidence(s, x_f, x_r, cfg: Config) -> torch.Tensor:
    """Keep retained digits (reconstruction + distillation); erase the Q-layers' evidence of forget digits.

    The same forward pass also gives the Q-layers' own loss: they read the *detached*
    codes, so their cross-entropy trains only them, while the MAE's terms see the heads
    frozen. One backward pass serves both players of the game.
    """
    outs = s.model.forward_all(torch.cat([x_f, x_r]))
    n = len(x_f)
    out_f, out_r = outs.reconstruction[:n], outs.reconstruction[n:]
    codes = outs[1:4]
    # (a) the Q-layers learn where the evidence lives in the current codes
    q_loss = sum(F.cross_entropy(q(c.detach()).float(), s.labels) for q, c in zip(s.model.q_layers, codes)) / 3
    # (b) the MAE keeps the retained digits and removes that evidence from the forget images
    keep = F.mse_loss(out_r, x_r) + cfg.distill_weight * F.mse_loss(out_r, s.teacher_out(x_r))
    evidence = forget_evidence(tuple(q[:n] for q in frozen_heads(s.model, codes)), s.retain_mask)
    return q_loss + keep + s.forget_weight * (evidence + repulsion(out_f, s.aux_out(x_f), cfg.repel_tau))


LOSSES: dict[str, Callable] = {"evidence": loss_evidence, "repel": loss_repel, "original": loss_original}


# ----------------------------------------------------------------------------- the loop


@dataclass
class UnlearnState:
    """What a loss function receives as `s`: the model being changed, its frozen references, the batch labels."""

    model: MAE
    aux: MAE
    teacher: MAE
    forget_weight: float  # strength x cfg.forget_weight
    retain_mask: torch.Tensor
    labels: torch.Tensor | None = None  # digits of the current (forget + retain) batch

    @torch.no_grad()
    def aux_out(self, x):
        """The auxiliary network's reconstruction (the thing to move away from)."""
        return self.aux(x)

    @torch.no_grad()
    def teacher_out(self, x):
        """The original model's reconstruction (the thing to stay close to on retained digits)."""
        return self.teacher(x)


def fit_q_layers(model: MAE, optimizer, loader_pairs, device) -> None:
    """One pass teaching the Q-layers to read the digit from the (frozen) codes: the starting adversary."""
    for (x_f, y_f), (x_r, y_r) in loader_pairs:
        x, y = torch.cat([x_f, x_r]).to(device), torch.cat([y_f, y_r]).to(device)
        with torch.no_grad():
            codes = model.forward_all(x)[1:4]
        loss = sum(F.cross_entropy(q(c), y) for q, c in zip(model.q_layers, codes))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def measure(model: MAE, loader: DataLoader, device, max_images: int = 512) -> tuple[float, float]:
    """(reconstruction MSE, mean Q-layer belief in the true digit) over the first `max_images` of a loader."""
    model.eval()
    x = loader.dataset.images[:max_images].to(device)
    y = loader.dataset.targets[:max_images].to(device)
    outs = model.forward_all(x)
    probs = torch.stack([q.float().softmax(1) for q in outs.q_logits]).mean(0)
    model.train()
    return F.mse_loss(outs.reconstruction.float(), x).item(), probs.gather(1, y[:, None]).mean().item()


def check_aux(model: MAE, aux: MAE) -> None:
    """The auxiliary network must have the main model's architecture (its outputs are compared)."""
    if getattr(aux, "config", None) != getattr(model, "config", None):
        raise ValueError(
            f"the auxiliary model's architecture {getattr(aux, 'config', type(aux).__name__)} differs from the "
            f"main model's {getattr(model, 'config', type(model).__name__)}; train it with train_auxiliary() "
            "using the same config"
        )


def unlearn(
    model: MAE,
    aux: MAE,
    forget_loader: DataLoader,
    retain_loader: DataLoader,
    method: str | Callable = "evidence",
    strength: float = CONFIG.strength,
    epochs: int = CONFIG.unlearn_epochs,
    lr: float = CONFIG.unlearn_lr,
    device: str | torch.device | None = None,
    progress: bool = True,
    cfg: Config = CONFIG,
) -> tuple[MAE, UnlearnHistory]:
    """Return an unlearned copy of `model` (the original is untouched) and its history.

    Each step takes one batch of forget digits and one of retained digits; an epoch is
    one pass over `forget_loader`. `strength` >= 0 scales the forgetting terms (0 = only
    keep reconstructing the retained digits). `method` is a name in `LOSSES` or your own
    function `loss(state, x_forget, x_retain, cfg) -> tensor` (see `loss_evidence`).
    """
    loss_fn = method if callable(method) else LOSSES.get(method)
    if loss_fn is None:
        raise ValueError(f"method must be one of {tuple(LOSSES)} or a loss function f(state, x_f, x_r, cfg); "
                         f"got {method!r}")
    if not isinstance(strength, (int, float)) or not math.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be a number >= 0 (0 = no unlearning); got {strength!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}")
    check_aux(model, aux)
    forget_digits = check_digits(sorted(set(forget_loader.dataset.targets.tolist())), "forget digits",
                                 allow_all=False)
    retain_digits = sorted(set(retain_loader.dataset.targets.tolist()))
    if set(forget_digits) & set(retain_digits):
        raise ValueError(f"forget and retain loaders share digits {sorted(set(forget_digits) & set(retain_digits))}")
    device = resolve_device(device)

    student = copy.deepcopy(model).to(device).train()
    teacher = copy.deepcopy(model).to(device).eval()
    aux = aux.to(device).eval()
    retain_mask = torch.ones(10, dtype=torch.bool, device=device)
    retain_mask[list(forget_digits)] = False
    state = UnlearnState(student, aux, teacher, float(strength) * cfg.forget_weight, retain_mask)
    mae_opt = torch.optim.Adam(student.autoencoder_parameters(), lr=lr)
    q_opt = torch.optim.Adam(student.q_layers.parameters(), lr=cfg.q_lr)
    # Anneal to zero: a constant rate leaves the weights jittering, which alone costs
    # the retained digits more reconstruction error than the forgetting does.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        mae_opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step / (epochs * len(forget_loader)), 1.0))))

    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    history = UnlearnHistory(method=name, strength=float(strength))

    def record(epoch):  # monitoring for the curves; not counted in history.seconds
        f_mse, f_belief = measure(student, forget_loader, device)
        r_mse, _ = measure(student, retain_loader, device)
        history.epoch.append(epoch)
        history.mse_forget.append(f_mse)
        history.mse_retain.append(r_mse)
        history.q_belief_forget.append(f_belief)

    tic = time.perf_counter()
    if method not in ("repel", "original"):  # Q-layers start untrained: let them find the evidence first
        fit_q_layers(student, q_opt, zip(forget_loader, retain_loader), device)
    history.seconds += time.perf_counter() - tic
    record(0)
    good_state = copy.deepcopy(student.state_dict())
    bar = tqdm(total=epochs * len(forget_loader), desc=f"unlearn ({method})", unit="batch", disable=not progress)
    try:
        for epoch in range(1, epochs + 1):
            tic = time.perf_counter()
            retain_batches = iter(retain_loader)
            for step, (x_f, y_f) in enumerate(forget_loader):
                try:
                    x_r, y_r = next(retain_batches)
                except StopIteration:  # fewer retain batches than forget batches: start over
                    retain_batches = iter(retain_loader)
                    x_r, y_r = next(retain_batches)
                x_f, x_r = x_f.to(device), x_r.to(device)
                state.labels = torch.cat([y_f, y_r]).to(device)
                with autocast_for(device, cfg.precision):
                    loss = loss_fn(state, x_f, x_r, cfg)
                if not torch.isfinite(loss):
                    history.stopped_early = (f"non-finite loss in epoch {epoch}, batch {step}; kept the weights of "
                                             f"epoch {epoch - 1}. Lower the strength or the learning rate.")
                    print(history.stopped_early, file=sys.stderr)
                    student.load_state_dict(good_state)
                    return student.eval(), history
                mae_opt.zero_grad(set_to_none=True)
                q_opt.zero_grad(set_to_none=True)
                loss.backward()
                mae_opt.step()
                q_opt.step()
                schedule.step()
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}")
            history.seconds += time.perf_counter() - tic
            record(epoch)
            good_state = copy.deepcopy(student.state_dict())
    finally:
        bar.close()
    return student.eval(), history


# ----------------------------------------------------------------------------- the other two networks


def train_auxiliary(forget_digits, cfg: Config = CONFIG, device=None, progress: bool = True) -> tuple[MAE, dict]:
    """An MAE trained only on the forget digits (cached like every trained model)."""
    forget, _ = split_digits(forget_digits)
    return train_cached("auxiliary", forget, cfg, device=device, progress=progress)


def retrain(forget_digits, cfg: Config = CONFIG, device=None, progress: bool = True) -> tuple[MAE, dict]:
    """The gold standard: a fresh MAE trained only on the retained digits, with the original's budget."""
    _, retain = split_digits(forget_digits)
    return train_cached("retrained", retain, cfg, device=device, progress=progress)
