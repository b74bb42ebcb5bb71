"""Each refine loss against a direct, per-sample implementation written here: the values
and the gradients with respect to the input and to the parameters."""

from __future__ import annotations

import torch
from torch import nn

from coloc_viewer.refine import losses


class Tiny(nn.Module):
    """conv -> tanh -> conv -> tanh (the "encoder", whose output ActDiff compares) -> mean
    pool -> linear (2 logits). No batch coupling, so per-sample and batched agree."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 3, 3, padding=1)
        self.fc = nn.Linear(3, 2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.c2(torch.tanh(self.c1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.encode(x).mean(dim=(2, 3)))


def _setup(seed: int = 0) -> tuple[Tiny, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    net = Tiny().double()
    x = torch.randn(3, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    outside = torch.rand(3, 1, 6, 5) > 0.4
    outside[1] = False  # a sample without constraint
    return net, x, outside


def _grads(value: torch.Tensor, net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    inputs = [x, *net.parameters()]
    grads = torch.autograd.grad(value, inputs, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads, strict=True)]


def _assert_same(a: torch.Tensor, b: torch.Tensor, net: nn.Module, x: torch.Tensor) -> None:
    assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), (float(a), float(b))
    ga, gb = _grads(a, net, x), _grads(b, net, x)
    assert any(float(g.abs().sum()) > 0 for g in ga)
    for u, v in zip(ga, gb, strict=True):
        assert torch.allclose(u, v, rtol=1e-7, atol=1e-10)


def test_gradmask_equals_direct_per_sample_sum():
    net, x, outside = _setup(1)
    batched = losses.gradmask_loss(x, net(x), outside)
    per = []
    for i in range(x.shape[0]):
        xi = x[i:i + 1]
        logits = net(xi)
        (g,) = torch.autograd.grad((logits[0, 1] - logits[0, 0]).abs(), xi, create_graph=True)
        per.append((g.abs() * outside[i:i + 1].expand_as(g)).sum())
    _assert_same(batched, torch.stack(per).mean(), net, x)


def test_rrr_equals_direct_per_sample_sum():
    net, x, outside = _setup(2)
    batched = losses.rrr_loss(x, net(x), outside)
    per = []
    for i in range(x.shape[0]):
        xi = x[i:i + 1]
        logp = torch.log_softmax(net(xi), dim=1)
        (g,) = torch.autograd.grad(logp.sum(), xi, create_graph=True)
        per.append(((g ** 2) * outside[i:i + 1].expand_as(g)).sum())
    _assert_same(batched, torch.stack(per).mean(), net, x)


def test_actdiff_equals_direct_mean_l2_over_constrained_samples():
    net, x, outside = _setup(3)
    shuffled = losses.shuffle_outside(x, outside, torch.Generator().manual_seed(5))
    a, b = net.encode(x), net.encode(shuffled)
    batched = losses.actdiff_loss(a, b, outside)
    direct = torch.stack([torch.sqrt(((a[i] - b[i]) ** 2).sum()) for i in (0, 2)]).mean()
    _assert_same(batched, direct, net, x)


def test_actdiff_is_zero_without_any_constraint():
    net, x, outside = _setup(4)
    none = torch.zeros_like(outside)
    a = net.encode(x)
    assert float(losses.actdiff_loss(a, a + 1.0, none)) == 0.0


def test_masked_input_sets_outside_to_fill_in_every_channel():
    _, x, outside = _setup(5)
    got = losses.masked_input(x, outside, fill=-2.0)
    want = x.detach().clone()
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            want[i, c][outside[i, 0]] = -2.0
    assert torch.equal(got.detach(), want)
    (g,) = torch.autograd.grad(got.sum(), x)
    assert torch.equal(g, (~outside).expand_as(x).double())


def test_shuffle_keeps_inside_and_permutes_outside_only():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 9 * 8, dtype=torch.float32).reshape(2, 3, 9, 8)
    outside = torch.zeros(2, 1, 9, 8, dtype=torch.bool)
    outside[0, 0, :5] = True
    outside[1, 0, 2:7, 3:] = True
    out = losses.shuffle_outside(x, outside, torch.Generator().manual_seed(1))
    inside = ~outside.expand_as(x)
    assert torch.equal(out[inside], x[inside])
    for b in range(2):
        m = outside[b, 0]
        before, after = x[b][:, m], out[b][:, m]  # (C, n)
        assert not torch.equal(before, after)  # something moved
        # the same multiset of pixels, each pixel's channels moved together
        key = lambda t: sorted(map(tuple, t.T.tolist()))  # noqa: E731
        assert key(before) == key(after)
    again = losses.shuffle_outside(x, outside, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    assert torch.equal(x, torch.arange(x.numel(), dtype=torch.float32).reshape(x.shape))


def test_contrast_two_classes_is_absolute_logit_difference():
    logits = torch.tensor([[0.5, -1.0], [2.0, 3.5]])
    assert torch.allclose(losses.contrast(logits), torch.tensor([1.5, 1.5]))
