"""The Modified Autoencoder (MAE): a small convolutional autoencoder with three Q-layers.

Shapes for a 28x28 digit with the default widths (conv: stride 2, no padding):

    encoder   1x28x28 -conv5-> 28x12x12 -conv5-> 56x4x4 -conv3-> 112x1x1   (encoded)
    dense     112 -> 56 -> 10                                               (bottleneck)
    un-dense  10 -> 56 -> 112                                               (decoder_input)
    decoder   112x1x1 -convT4-> 56x4x4 -convT6-> 28x12x12 -convT6-> 1x28x28 (reconstruction)

One change to the original: GroupNorm after the two hidden decoder layers. Measured on
the offline digits (600 Adam steps, batch 64): without it the tanh output collapses to
all-background within ~20 steps at lr >= 5e-4 (MSE stuck at 0.455) and crawls at 3e-4
(0.21); with it, MSE 0.097 at lr 1e-3 for the same time per step.
`MAE(decoder_norm=False)` is the original, exactly.

A Q-layer is a linear head that reads one of those codes and guesses the digit (its
softmax is the belief). Unlearning trains them to find where the evidence of a digit
lives, then trains the autoencoder so that evidence disappears (see unlearn.py).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from .config import CONFIG

CHECKPOINT_FORMAT = "mae_helpers.checkpoint/1"
Q_LAYER_NAMES = ("encoded", "bottleneck", "decoder_input")


class MAEOutputs(NamedTuple):
    """Every intermediate code of one forward pass, and the three Q-layers' logits."""

    reconstruction: torch.Tensor  # (N, 1, 28, 28) in [-1, 1]
    encoded: torch.Tensor  # (N, C3) conv features
    bottleneck: torch.Tensor  # (N, code_dim)
    decoder_input: torch.Tensor  # (N, C3) what the conv decoder starts from
    q_logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # each (N, 10), in Q_LAYER_NAMES order


class MAE(nn.Module):
    """Convolutional autoencoder for 28x28 digits with Q-layers on three codes."""

    def __init__(
        self,
        channels: tuple[int, int, int] = CONFIG.channels,
        hidden: int = CONFIG.hidden,
        code_dim: int = CONFIG.code_dim,
        num_classes: int = 10,
        decoder_norm: bool = CONFIG.decoder_norm,
    ):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        if min(c1, c2, c3, hidden, code_dim, num_classes) < 1:
            raise ValueError(f"all widths must be >= 1; got channels={channels}, hidden={hidden}, code_dim={code_dim}")
        # Saved in checkpoints so load_model can rebuild the same network.
        self.config = dict(channels=[c1, c2, c3], hidden=int(hidden), code_dim=int(code_dim),
                           num_classes=int(num_classes), decoder_norm=bool(decoder_norm))

        def norm(c: int) -> nn.Module:
            # GroupNorm, not BatchNorm: unlearning feeds forget-only batches, and a
            # batch-statistics layer would then behave differently on them.
            return nn.GroupNorm(math.gcd(c, 8), c) if decoder_norm else nn.Identity()

        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 5, stride=2), nn.ReLU(),
            nn.Conv2d(c1, c2, 5, stride=2), nn.ReLU(),
            nn.Conv2d(c2, c3, 3, stride=2), nn.ReLU(),
            nn.Flatten(),
        )
        self.dense = nn.Sequential(nn.Linear(c3, hidden), nn.ReLU(), nn.Linear(hidden, code_dim))
        self.undense = nn.Sequential(nn.Linear(code_dim, hidden), nn.ReLU(), nn.Linear(hidden, c3), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (c3, 1, 1)),
            nn.ConvTranspose2d(c3, c2, 4, stride=2), norm(c2), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 6, stride=2), norm(c1), nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 6, stride=2),
            # Bounded to the input range: an unbounded output lets an unlearning loss
            # "forget" by inflating pixels while the clipped picture still shows the digit.
            nn.Tanh(),
        )
        self.q_layers = nn.ModuleList(
            [nn.Linear(c3, num_classes), nn.Linear(code_dim, num_classes), nn.Linear(c3, num_classes)]
        )

    def autoencoder_parameters(self) -> list[nn.Parameter]:
        """Parameters of the autoencoder proper (everything but the Q-layers)."""
        q = {id(p) for p in self.q_layers.parameters()}
        return [p for p in self.parameters() if id(p) not in q]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The 10-d bottleneck code of a batch of images."""
        return self.dense(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct a batch of (N, 1, 28, 28) images in [-1, 1]."""
        return self.decoder(self.undense(self.encode(x)))

    def forward_all(self, x: torch.Tensor) -> MAEOutputs:
        """One pass returning the reconstruction, every code and the three Q-layer logits."""
        encoded = self.encoder(x)
        bottleneck = self.dense(encoded)
        decoder_input = self.undense(bottleneck)
        codes = (encoded, bottleneck, decoder_input)
        q_logits = tuple(q(code) for q, code in zip(self.q_layers, codes))
        return MAEOutputs(self.decoder(decoder_input), *codes, q_logits)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- checkpoints


def save_model(model: MAE, path: str | os.PathLike, **metadata) -> Path:
    """Save weights, constructor arguments and JSON-able `metadata` atomically to `path`."""
    path = Path(path)
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata for {path} must be JSON-like (numbers, strings, lists, dicts): {err}") from err
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": metadata,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: an interrupted save leaves the old file intact.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict at `path`, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train a model first or check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is not a readable checkpoint (truncated or corrupt?): {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an mae_helpers checkpoint (save one with mae_helpers.save_model)")
    return payload


def load_model(path: str | os.PathLike, device: str | torch.device | None = "cpu") -> MAE:
    """Rebuild the `MAE` saved at `path`; its metadata is on `model.metadata`."""
    payload = read_checkpoint(path)
    config = dict(payload["config"])
    model = MAE(channels=tuple(config.pop("channels")), **config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path} holds weights that do not fit its recorded architecture: {err}") from err
    model.metadata = payload.get("metadata", {})
    return model.to(device).eval()
