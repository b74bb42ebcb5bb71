"""ROI-guided fine-tuning: teach a model where to look (ActDiff, GradMask, RRR, masked).

What to call (stable API; see docs/refine.md):

* :func:`refine` ``(model_ref, manifest, method, *, lam, epochs, lr, seed, out_dir,
  shortcut_roi=None, lesion_roi=None, progress=None, cancel=None, batch_size=16,
  threads=None, device=None, name=None, on_plan=None, organ_roi=None, weight_decay=0,
  flip=False, train_batchnorm=False, schedule="constant", actdiff_layer=None)
  -> RefineResult`` -- fine-tune a
  2-D slice classifier on a cohort manifest's cases and write ``out_dir/<name>.json`` +
  ``.safetensors``. ``progress(epoch, batch, loss)`` after each batch;
  ``on_plan(epochs, batches_per_epoch, first_epoch)`` once; ``cancel`` (callable or
  ``threading.Event``) raises :class:`RefineCancelled`. Rerun into the same ``out_dir``
  to resume. Bad input raises :class:`coloc_viewer.errors.ColocError` (one line).
* :func:`untrainable_reason` ``(card) -> str | None`` -- why refine cannot train a card's
  model (TorchScript/export, not a 2-D classifier, one class), read from the card alone.
* :data:`METHODS` -- ``actdiff``, ``gradmask``, ``rrr``, ``masked``, ``none``;
  :data:`SCHEDULES` -- ``constant``, ``cosine``.
* :func:`coloc_viewer.refine.evaluate.compare_models` -- the before/after evaluation the
  CLI reports (AUC, lesion/shortcut relevance mass, share of p < 0.05).

Runs in any thread (no Qt); a GUI should call :func:`refine` in a worker.
"""

from coloc_viewer.refine.train import (
    METHODS,
    SCHEDULES,
    RefineCancelled,
    RefineResult,
    refine,
    untrainable_reason,
)

__all__ = ["METHODS", "SCHEDULES", "RefineCancelled", "RefineResult", "refine",
           "untrainable_reason"]
