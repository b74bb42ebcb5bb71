"""Co-localization scores (numpy only), DESIGN.md section 4; definitions in docs/scores.md.

* :func:`coloc_viewer.metrics.scores.score` -- one 2-D map against one ROI.
* :class:`coloc_viewer.metrics.scorer.Scorer` -- built once per map, ``update(roi)`` per edit.
* :func:`coloc_viewer.metrics.volume.score_volume` -- per-slice rows and pooled 3-D scores.
* :func:`coloc_viewer.metrics.upsample.upsample` -- map to image grid, exactly as torch.
* :mod:`coloc_viewer.metrics.shift_test` -- the FFT translation test behind ``p_value``.
"""
