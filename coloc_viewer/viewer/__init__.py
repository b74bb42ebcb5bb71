"""Qt-free state both windows share (no PySide6, no pyqtgraph: an import contract checks).

* ``events``       -- :class:`Event` and :class:`EventedModel` (events carry their values)
* ``view_models``  -- slice, window/level, tool and overlay models of one view
* ``tools``        -- the ROI tool vocabulary
* ``display``      -- windowing, colour maps, ROI fills/outlines, orientation letters
* ``state``        -- :class:`ViewerState`: one study through one view, ROIs, scores
* ``maps``         -- the shown map of an explanation, prepared in a worker
* ``live_scores``  -- one Scorer per map; ``verdict`` -- the plain-language verdict
* ``analysis``     -- analysis settings, the LRU result cache, the worker generators
* ``registry``     -- the one model registry
* ``study``        -- loading a study (progressively), the demo cases, ROI files
* ``compare``      -- N panes of (study, view, settings) and the links between them
* ``exports``      -- the screenshot legend and the case-report task
"""
