"""A second judge for the benchmark, built and trained differently from the package's.

The package's judge (`evaluate.train_judge`) and the unlearning loop's witness are both
small plain CNNs of this package. A result that only they confirm could be a blind spot
the three share. This judge has another architecture (four 3x3 convolutions with batch
norm, dropout), another seed, shifted training digits and its own schedule; it reads the
same reconstructions of held-out test digits. It is a benchmark tool, not part of the
package: the loop never sees it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mae_helpers.config import get_config
from mae_helpers.data import loaders_for
from mae_helpers.evaluate import classifier_accuracy

SEED = 123  # neither the package's seeds nor its judge's
STEPS, BATCH, LR = 1500, 128, 2e-3


class IndependentJudge(nn.Module):
    """Four 3x3 conv + batch-norm blocks, two max-pools, dropout, one linear layer (99.1% on t10k-8k's test split)."""

    def __init__(self):
        super().__init__()

        def block(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())

        self.net = nn.Sequential(block(1, 32), block(32, 32), nn.MaxPool2d(2), block(32, 64), block(64, 64),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 49, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the ten digits for images in [-1, 1]."""
        return self.net(x)


def independent_judge(settings: dict, path: Path) -> tuple[IndependentJudge, float]:
    """(judge, test accuracy) for the scale of `settings` (config overrides), trained once and kept at `path`."""
    cfg = get_config(fast=False, seed=SEED, **settings)
    loaders = loaders_for(cfg, None, "cpu")
    torch.manual_seed(SEED)  # its first weights too
    judge = IndependentJudge()
    if path.exists():
        judge.load_state_dict(torch.load(path, weights_only=True))
        return judge.eval(), classifier_accuracy(judge.eval(), loaders.test, "cpu")
    images, labels = loaders.train.dataset.images, loaders.train.dataset.targets
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(judge.parameters(), LR)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, LR, total_steps=STEPS)
    judge.train()
    for _ in range(STEPS):
        pick = torch.randint(len(labels), (BATCH,), generator=generator)
        dx, dy = torch.randint(-2, 3, (2,), generator=generator).tolist()  # shifted digits: not the same eyes
        loss = F.cross_entropy(judge(torch.roll(images[pick], shifts=(dy, dx), dims=(2, 3))), labels[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(judge.state_dict(), path)
    return judge.eval(), classifier_accuracy(judge.eval(), loaders.test, "cpu")
