"""The witness: the unlearning loop's own eyes on held-out digits (not a referee)."""

import pytest
import torch
import torch.nn.functional as F

from mae_helpers import MAE, get_config, train_cached
from mae_helpers.common import inference
from mae_helpers.data import loaders_for
from mae_helpers.witness import Witness, WitnessNet, train_witness

FORGET = (2, 6)
RETAIN = tuple(d for d in range(10) if d not in FORGET)


@pytest.fixture(scope="module")
def world():
    """A small trained original and its witness (seconds)."""
    cfg = get_config(source="offline", max_train_images=1200, epochs=3, batch_size=64, forget_digits=FORGET,
                     witness_images=256, witness_steps=100)
    original, _ = train_cached("main", None, cfg, progress=False)
    return cfg, original, train_witness(original, cfg, progress=False)


def watch(cfg, original, net, **changes):
    """A Witness on cfg's held-out digits (the loop's own construction)."""
    everything = loaders_for(cfg)
    return Witness(net, original, everything.val.dataset, everything.train.dataset.images, FORGET,
                   cfg.witness_images)


def test_the_witness_sees_a_digit_when_either_of_its_two_networks_sees_it():
    """WitnessNet's belief in each digit is the larger of its members': one fooled member is not enough."""
    torch.manual_seed(0)
    net = WitnessNet().eval()
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        belief = net(x).exp()
        members = [m(x).softmax(1) for m in net.members()]
    assert torch.allclose(belief, torch.maximum(*members))
    with torch.no_grad():  # silence one member: the other's view still comes through
        net.lenet[-1].weight.zero_()
        net.lenet[-1].bias.zero_()
        assert torch.allclose(net(x).exp().argmax(1), net.normed(x).argmax(1))


def test_one_look_is_what_the_witness_and_the_guard_each_see(world):
    """A check redraws each held-out digit once; its three numbers are those of the plain computation."""
    cfg, original, net = world
    witness = watch(cfg, original, net)
    model = MAE().eval()  # an untrained model: its drawings differ from the original's
    look = witness.look(model)
    with inference(model, original, net):
        out_f, out_r = model(witness.x_f), model(witness.x_r)
        belief = net(out_f.clamp(-1, 1)).softmax(1)[:, list(FORGET)].sum(1).mean().item()
        ratio = F.mse_loss(out_r, witness.x_r).item() / F.mse_loss(original(witness.x_r), witness.x_r).item()
    assert look.evidence == pytest.approx(belief, rel=1e-4)
    assert look.retain_ratio == pytest.approx(ratio, rel=1e-4)
    assert look.forget_mse == pytest.approx(F.mse_loss(out_f, witness.x_f).item(), rel=1e-4)
    assert witness.look(original).retain_ratio == pytest.approx(1.0, abs=1e-5)


def test_the_callers_witness_network_is_neither_changed_nor_switched(world):
    cfg, original, net = world
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    watch(cfg, original, net).look(original)
    assert net.training and all(torch.equal(before[k], v) and v.is_contiguous() for k, v in net.state_dict().items())
    net.eval()


def test_the_witness_counts_a_forget_digit_drawn_as_another_forget_digit(world):
    cfg, original, net = world
    witness = watch(cfg, original, net)
    sixes = loaders_for(cfg, (6,)).train.dataset.images

    class DrawsSixes(torch.nn.Module):
        """Draws every digit as a real 6: a 2 is then not drawn as a 2, yet not forgotten, since 6 goes too."""

        def forward(self, x):
            return sixes[torch.arange(len(x)) % len(sixes)]

    assert witness.evidence(DrawsSixes()) > 0.8


def tiled(root, mnist_on_disk, copies: int, images: int):
    """`images` offline training digits, each `copies` times in a random order: validation holds copies."""
    from mae_helpers.data import load_mnist_arrays

    train_x, train_y, test_x, test_y = load_mnist_arrays("data", "offline")[:4]
    generator = torch.Generator().manual_seed(1)
    digits = torch.randperm(len(train_y), generator=generator)[:images]  # the files are sorted by digit
    pick = digits.repeat(copies)[torch.randperm(images * copies, generator=generator)]
    return mnist_on_disk(root, (train_x[pick], train_y[pick], test_x, test_y))


def test_held_out_copies_of_training_digits_and_repeats_are_dropped(tmp_path, mnist_on_disk):
    tiled(tmp_path, mnist_on_disk, copies=2, images=1500)
    cfg = get_config(source="disk", data_root=str(tmp_path), max_train_images=None, forget_digits=FORGET,
                     witness_images=10_000)
    val = loaders_for(cfg).val.dataset
    witness = watch(cfg, MAE(), WitnessNet())
    train_pixels = {tuple(x.flatten().tolist()) for x in loaders_for(cfg).train.dataset.images}
    kept = [tuple(x.flatten().tolist()) for x in torch.cat([witness.x_f, witness.x_r])]
    assert not set(kept) & train_pixels, "no held-out image is a copy of a training image"
    assert len(set(kept)) == len(kept), "and each held-out image is read once"
    assert witness.dropped == len(val) - len(kept) > 0.5 * len(val)


def test_held_out_digits_that_are_all_copies_are_refused_with_the_fix(tmp_path, mnist_on_disk):
    tiled(tmp_path, mnist_on_disk, copies=10, images=300)
    cfg = get_config(source="disk", data_root=str(tmp_path), max_train_images=None, forget_digits=FORGET)
    with pytest.raises(ValueError, match="copies of training digits.*layouts.py"):
        watch(cfg, MAE(), WitnessNet())


def test_the_false_alarms_are_its_belief_in_a_forget_digit_where_there_is_none(world):
    """The stop is relative to what the witness sees in the original's drawings of the held-out retained digits."""
    cfg, original, net = world
    witness = watch(cfg, original, net)
    with inference(original, net):
        belief = net(original(witness.x_r).clamp(-1, 1)).softmax(1)[:, list(FORGET)].sum(1).mean().item()
    assert witness.false_alarms == pytest.approx(belief, rel=1e-4)
    assert 0 < witness.false_alarms < witness.look(original).evidence, "drawings of forget digits show them more"
