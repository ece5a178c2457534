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

import hashlib
import io
import json
import math
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from .config import Config, resolve_device
from .files import open_regular, write_atomic

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
        channels: tuple[int, int, int] = Config.channels,
        hidden: int = Config.hidden,
        code_dim: int = Config.code_dim,
        num_classes: int = 10,
        decoder_norm: bool = Config.decoder_norm,
    ):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        if min(c1, c2, c3, hidden, code_dim, num_classes) < 1:
            raise ValueError(f"all widths must be >= 1; got channels={channels}, hidden={hidden}, code_dim={code_dim}")
        # Saved in checkpoints so load_model can rebuild the same network.
        self.config = dict(channels=[c1, c2, c3], hidden=int(hidden), code_dim=int(code_dim),
                           num_classes=int(num_classes), decoder_norm=bool(decoder_norm))

        def norm(c: int) -> nn.Module:
            # GroupNorm, not BatchNorm: statistics of each image alone, the same in train and eval mode.
            # Unlearning steps run forget and retained digits in one batch in train mode; with batch
            # statistics a drawing would depend on its batch mates, and the running averages that
            # eval mode uses would drift during unlearning (notebook 2, Exercise 3).
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


def weights_digest(state_dict: dict) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and bytes: a checkpoint stores it to detect damage."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _non_finite(state_dict: dict) -> list[str]:
    """Names of the floating-point tensors that hold NaN or infinity."""
    return [k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]


def _odd_tensors(state_dict: dict) -> list[str]:
    """Names of tensors no checkpoint of ours holds: sparse or other layouts, integers, views past their storage.

    A view with stride 0 can claim any shape over one stored number: hashing it would allocate that shape.
    The one integer allowed is batch norm's step counter (`num_batches_tracked`, a single int64).
    """
    def counter(name: str, v: torch.Tensor) -> bool:
        return name.endswith("num_batches_tracked") and v.dim() == 0 and v.dtype == torch.int64

    return [k for k, v in state_dict.items()
            if v.layout != torch.strided or not (v.is_floating_point() or counter(k, v)) or not v.is_contiguous()
            or (v.storage_offset() + v.numel()) * v.element_size() > v.untyped_storage().nbytes()]


def save_model(model: MAE, path: str | os.PathLike, **metadata) -> Path:
    """Save weights, constructor arguments and JSON-able `metadata` atomically to `path`.

    The file stores a hash of the weights (checked by `read_checkpoint`) and honours the
    umask, so a cache folder can be shared. Non-finite weights are refused.
    """
    path = Path(path)
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata for {path} must be JSON-like (numbers, strings, lists, dicts): {err}") from err
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    bad = _non_finite(state)
    if bad:
        raise ValueError(f"not saving {path}: the weights {bad[:3]} hold NaN or infinity")
    payload = {"format": CHECKPOINT_FORMAT, "config": model.config, "state_dict": state, "metadata": metadata,
               "sha256": weights_digest(state)}
    # Serialise in memory first: torch's own file writer reports a full disk as "enforce fail ...
    # unexpected pos"; write_atomic raises the real OSError and leaves any old file intact.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_atomic(path, buffer.getvalue())


def _check_archive(path: Path) -> None:
    """Refuse, before torch reads it, a file that is not a checkpoint as `save_model` writes it: a zip archive of
    stored (uncompressed) records that together fit in the file.

    torch allocates each record's declared size: a few MB of deflated zeros would make it allocate gigabytes.
    A text or pickle file is refused here too, in one line, instead of torch's advice to unpickle it.
    """
    with open_regular(path, what="checkpoint") as f:  # a FIFO or a device is refused unopened
        size = os.fstat(f.fileno()).st_size
        try:
            records = zipfile.ZipFile(f).infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
            raise ValueError(f"{path} is not a readable checkpoint (truncated, or not a file torch.save wrote: "
                             f"{err})") from None
    packed = [r.filename for r in records if r.compress_type != zipfile.ZIP_STORED or r.file_size != r.compress_size]
    if packed:
        raise ValueError(f"{path} is not a checkpoint save_model wrote: its record {packed[0]} is compressed")
    if sum(r.file_size for r in records) > size or any(r.header_offset + r.file_size > size for r in records):
        raise ValueError(f"{path} is not a readable checkpoint: its records claim more bytes than the file holds")


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict at `path`, checked whole (format, parts, weight hash, finite weights).

    Every malformed or damaged file raises a ValueError that names it, in one line; what torch
    reads costs no more memory than the file's size.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train a model first or check the path")
    _check_archive(path)
    try:
        with warnings.catch_warnings():  # its warnings are about unpickling: the line below says all there is
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError:  # torch's own message is seven lines of advice to unpickle it unchecked
        raise ValueError(f"{path} is not an mae_helpers checkpoint: it holds Python objects other than tensors, "
                         "numbers and strings (refused unread)") from None
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{path} is not a readable checkpoint (truncated or corrupt?): {first}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an mae_helpers checkpoint (save one with mae_helpers.save_model)")
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} has no weights (its 'state_dict' is missing or not a dict of tensors)")
    odd = _odd_tensors(state)
    if odd:
        raise ValueError(f"{path} holds tensors no saved network has (sparse, integer or strided views: {odd[:3]})")
    if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("metadata", {}), dict):
        raise ValueError(f"{path} has no architecture record (its 'config' or 'metadata' is missing or not a dict)")
    if "sha256" in payload and payload["sha256"] != weights_digest(state):  # files saved before the hash lack it
        raise ValueError(f"{path} is damaged: its weights do not match the hash saved with them")
    bad = _non_finite(state)
    if bad:
        raise ValueError(f"{path} is damaged: the weights {bad[:3]} hold NaN or infinity")
    return payload


def rebuild(cls: type[nn.Module], payload: dict) -> nn.Module:
    """`cls(**config)` of a checked checkpoint, with its weights; the shapes are compared on the meta device first.

    So a small crafted file that promises a huge architecture is refused before anything is allocated.
    """
    with torch.device("meta"):
        skeleton = cls(**payload["config"])
    wanted = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    held = {k: tuple(v.shape) for k, v in payload["state_dict"].items()}
    if wanted != held:
        name = sorted(set(wanted) ^ set(held) or {k for k in wanted if wanted[k] != held[k]})[0]
        raise ValueError(f"its weights do not fit its architecture ({name}: {held.get(name, 'missing')} in the "
                         f"file, {wanted.get(name, 'none')} expected)")
    # The skeleton takes the file's tensors as they are: nothing is initialised (no draw from the global random
    # stream, no work), and every tensor of these networks is in the state dict, so none stays on "meta".
    skeleton.load_state_dict(payload["state_dict"], assign=True)
    return skeleton


def load_model(path: str | os.PathLike, device: str | torch.device | None = "cpu") -> MAE:
    """Rebuild the `MAE` saved at `path` on `device` (None: the CPU); its metadata is on `model.metadata`.

    A file that is not an MAE checkpoint (a judge's, a damaged one, one with unknown
    architecture settings or weights of other shapes) raises a ValueError naming it; so does a
    device that is not there or holds no weights ("meta"), before the file is read.
    """
    device = None if device is None else resolve_device(device)
    payload = read_checkpoint(path)
    try:
        model = rebuild(MAE, payload)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        key = payload.get("metadata", {}).get("key")
        role = key.get("name") if isinstance(key, dict) else None
        what = f" (it holds the {role!r} network)" if role == "judge" else ""
        raise ValueError(f"{path} is not an MAE checkpoint{what}: its architecture {payload['config']} does not "
                         f"build an MAE ({type(err).__name__}: {err})") from err
    model.metadata = payload.get("metadata", {})
    return model.to(device).eval()
