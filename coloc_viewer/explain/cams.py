"""The CAM-method registry and the class activation maps, on raw values.

A CAM method is one :class:`CamMethod` -- its name, label and function -- registered here
with :func:`register_cam`; the engine, the viewer's map chooser, the compare panes, the CLI
and the reports read the registry, so adding a method is one entry (plus its test).

Every function gets one capture (activations A and gradients G of the target score, both
(C, h, w) or (C, d, h, w): every sum and mean "over x,y" runs over all spatial axes) as
:class:`CamInputs`; methods with ``needs_forward`` also get the model, its input and the
channels to score. No normalisation happens here (see ``scale.py``). Built in:

* ``cam``      -- sum_k W_ck A_k for a global-average-pool + linear head, where
                  W_ck = h*w * mean(G_k) (exact for such heads); not rectified.
* ``gradcam``  -- ReLU(sum_k alpha_k A_k), alpha_k = mean over x,y of G_k.
* ``gradcam++``-- ReLU(sum_k beta_k A_k), beta_k = sum_xy ReLU(G) a_kxy with
                  a = G^2 / (2 G^2 + sum_xy(A_k) G^3 + 1e-6) where G != 0 (Chattopadhay
                  et al. 2018, eq. 19, with the same epsilon as pytorch-grad-cam).
* ``layercam`` -- ReLU(sum_k ReLU(G_k) * A_k) (Jiang et al. 2021).
* ``scorecam`` -- see :mod:`coloc_viewer.explain.scorecam` (``scorecam:K``: top-K channels).

This module does not import torch (it works on the tensors it is given), so torch-free
layers can read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coloc_viewer.errors import ModelError
from coloc_viewer.vocab import LiveMapping, LiveTuple

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class CamInputs:
    """One capture: ``acts``/``grads`` (C, *spatial); for ``needs_forward`` methods also the
    model (``module``), its input ``x``, the ``target`` class, the ``channels`` to score
    (None = all) and the ``reader`` turning a model output into class scores."""

    acts: Tensor
    grads: Tensor
    module: Any = None
    x: Tensor | None = None
    target: int = 0
    channels: Sequence[int] | None = None
    reader: Any = None


@dataclass(frozen=True)
class CamMethod:
    """One CAM method: ``name`` (the spelling everywhere), ``label`` (menus, reports),
    ``compute(CamInputs) -> raw map``; ``needs_forward``: re-runs the model (takes ``:K``,
    the top-K channels); ``viewer_choice``: the spelling the viewer offers (default name)."""

    name: str
    label: str
    compute: Callable[[CamInputs], Tensor]
    needs_forward: bool = False
    viewer_choice: str | None = None
    viewer_label: str | None = None

    @property
    def choice(self) -> str:
        return self.viewer_choice or self.name


_REGISTRY: dict[str, CamMethod] = {}


def register_cam(method: CamMethod) -> CamMethod:
    """Add (or replace) a CAM method; menus list methods in registration order."""
    _REGISTRY[method.name] = method
    return method


def unregister_cam(name: str) -> None:
    _REGISTRY.pop(name, None)


def cam_method(name: str) -> CamMethod:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown CAM method {name!r}; choose from "
                         f"{', '.join(_REGISTRY)}") from None


#: every CAM method, and those computed from the captured gradients alone (live views)
METHODS: LiveTuple = LiveTuple(lambda: list(_REGISTRY))
GRADIENT_METHODS: LiveTuple = LiveTuple(
    lambda: [n for n, m in _REGISTRY.items() if not m.needs_forward])
CAM_REGISTRY: LiveMapping = LiveMapping(lambda: _REGISTRY)


def spatial_axes(t: Tensor) -> tuple[int, ...]:
    """The spatial axes of a (C, *spatial) tensor."""
    return tuple(range(1, t.ndim))


def gradcam_weights(grads: Tensor) -> Tensor:
    """alpha_k: the spatial mean of each channel's gradient, (C,)."""
    return grads.mean(dim=spatial_axes(grads))


def weighted_sum(weights: Tensor, acts: Tensor) -> Tensor:
    """sum_k w_k A_k: (C,) x (C, *spatial) -> (*spatial)."""
    return (weights @ acts.reshape(acts.shape[0], -1)).reshape(acts.shape[1:])


def gradcam(acts: Tensor, grads: Tensor) -> Tensor:
    return weighted_sum(gradcam_weights(grads), acts).relu()


def gradcampp_weights(acts: Tensor, grads: Tensor) -> Tensor:
    g2 = grads * grads
    g3 = g2 * grads
    sum_a = acts.sum(dim=spatial_axes(acts), keepdim=True)
    aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
    aij = aij * (grads != 0)
    return (grads.relu() * aij).sum(dim=spatial_axes(grads))


def gradcampp(acts: Tensor, grads: Tensor) -> Tensor:
    return weighted_sum(gradcampp_weights(acts, grads), acts).relu()


def layercam(acts: Tensor, grads: Tensor) -> Tensor:
    return (grads.relu() * acts).sum(dim=0).relu()


def has_linear_gap_head(grads: Tensor, rtol: float = 1e-4) -> bool:
    """True when each channel's gradient is spatially constant (a GAP + linear head)."""
    spread = (grads - grads.mean(dim=spatial_axes(grads), keepdim=True)).abs().amax()
    return bool(spread <= rtol * grads.abs().amax() + 1e-12)


def class_activation_map(acts: Tensor, grads: Tensor) -> Tensor:
    """CAM (Zhou et al. 2016) for a GAP + linear head; ModelError for other heads."""
    if not has_linear_gap_head(grads):
        raise ModelError("CAM needs a global-average-pool + linear head after the chosen "
                         "layer; use gradcam for this layer")
    return weighted_sum(gradcam_weights(grads) * acts[0].numel(), acts)


def _scorecam(inp: CamInputs) -> Tensor:
    from coloc_viewer.explain.scorecam import scorecam

    extra = {} if inp.reader is None else {"reader": inp.reader}
    return scorecam(inp.module, inp.x, inp.acts, inp.target, inp.channels, **extra)


for _method in (
    CamMethod("cam", "CAM", lambda i: class_activation_map(i.acts, i.grads)),
    CamMethod("gradcam", "Grad-CAM", lambda i: gradcam(i.acts, i.grads)),
    CamMethod("gradcam++", "Grad-CAM++", lambda i: gradcampp(i.acts, i.grads)),
    CamMethod("layercam", "Layer-CAM", lambda i: layercam(i.acts, i.grads)),
    CamMethod("scorecam", "Score-CAM", _scorecam, needs_forward=True,
              viewer_choice="scorecam:16", viewer_label="Score-CAM (top-16)"),
):
    register_cam(_method)


def gradient_cam(method: str, acts: Tensor, grads: Tensor) -> Tensor:
    """The raw (h, w) or (d, h, w) map of one gradient-based ``method`` (registry lookup)."""
    found = cam_method(method)
    if found.needs_forward:
        raise ValueError(f"{method!r} re-runs the model; use compute_cam with CamInputs")
    return found.compute(CamInputs(acts, grads))


def compute_cam(method: str, inputs: CamInputs) -> Tensor:
    """The raw map of any registered ``method``."""
    return cam_method(method).compute(inputs)
