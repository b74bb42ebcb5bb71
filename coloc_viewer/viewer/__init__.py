"""Qt-free state both windows share (no PySide6, no pyqtgraph: an import contract checks).

* ``events``       -- :class:`Event` and :class:`EventedModel` (events carry their values)
* ``view_models``  -- slice, window/level, tool and overlay models of one view
* ``tools``        -- the ROI tool vocabulary
* ``display``      -- windowing, colour maps, ROI fills/outlines, orientation letters, units
* ``orientation``  -- standard radiological display orientation of any stored volume
* ``state``        -- :class:`ViewerState`: one study through one view, analysis settings,
  maps and live scores; ``roi_editing`` -- its ROI tools, undo/redo
* ``maps``         -- the shown map of an explanation, prepared in a worker
* ``live_scores``  -- one Scorer per map; ``verdict`` -- the honest plain-language verdict
* ``domain``       -- out-of-domain warnings from the card's ``expects``
* ``analysis``     -- analysis settings, the one LRU result cache, the worker generators
* ``registry``     -- the one model registry
* ``study``        -- loading a study (progressively), the demo cases, ROI files
* ``autosave``     -- the study's autosave session bound to a view state
* ``compare``      -- compare panes of (study, view state, settings) and their links
* ``exports``      -- the screenshot legend and the case-report task
"""
