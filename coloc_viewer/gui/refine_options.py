"""The refine dialog's "Training options" group: schedule, weight decay, flips, BatchNorm,
batch size and ActDiff's layer, plus the recipes (:data:`RECIPES` in
:mod:`coloc_viewer.viewer.refine_job`) that set the whole form at once."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from coloc_viewer.errors import ColocError
from coloc_viewer.viewer.refine_job import RECIPES, card_refusal, default_lesion_roi

TARGET_LAYER = "(the card's target layer)"
CUSTOM = "Custom (edited)"
NO_SHORTCUT = "(none)"
ORGAN_NAMES = ("prostate", "gland", "organ")  # an organ ROI chosen by default


class TrainingOptions(QGroupBox):
    """Widgets for the options of :func:`coloc_viewer.refine.refine` beyond method, lambda,
    epochs, learning rate and seed; :meth:`values` gives them as RefineRequest fields."""

    def __init__(self, parent: QWidget | None = None) -> None:
        from coloc_viewer.refine import SCHEDULES

        super().__init__("Training options", parent)
        self.recipe = QComboBox()
        for key, recipe in RECIPES.items():
            self.recipe.addItem(recipe["label"], key)
        self.recipe.addItem(CUSTOM, None)  # shown once the form differs from every recipe
        self.recipe.setToolTip("Set the whole form at once. Defaults: the command line's "
                               "(lambda 1, 3 epochs, lr 1e-4, a cautious start). demo-"
                               "refined's recipe: how demo-refined was made from demo-"
                               "shortcut, chosen on held-out cases (docs/refine.md)")
        self.schedule = QComboBox()
        self.schedule.addItems(list(SCHEDULES))
        self.schedule.setToolTip("constant: the same learning rate throughout; cosine: "
                                 "annealed to 0 over the run")
        self.weight_decay = QDoubleSpinBox(decimals=6, minimum=0.0, maximum=1.0, value=0.0,
                                           singleStep=0.0001)
        self.weight_decay.setToolTip("AdamW weight decay (0: Adam)")
        self.batch_size = QSpinBox(minimum=1, maximum=512, value=16)
        self.flip = QCheckBox("Mirror batches left-right (augmentation)")
        self.batchnorm = QCheckBox("Let BatchNorm statistics adapt")
        self.actdiff_layer = QComboBox()
        self.actdiff_layer.setEditable(True)
        self.actdiff_layer.setToolTip("ActDiff compares this layer's activations of the image "
                                      "and of its shuffled copy (the paper: the encoder "
                                      "output, e.g. layer4); several layers, "
                                      "comma-separated, average their distances")
        form = QFormLayout(self)  # the recipe goes at the top of the dialog's own form
        form.addRow("Schedule", self.schedule)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Batch size", self.batch_size)
        form.addRow("", self.flip)
        form.addRow("", self.batchnorm)
        form.addRow("ActDiff layer", self.actdiff_layer)
        self.widgets: list[QWidget] = [self.recipe, self.schedule, self.weight_decay,
                                       self.batch_size, self.flip, self.batchnorm,
                                       self.actdiff_layer]

    def changed_signals(self) -> list[Any]:
        """The signals of every option widget but the recipe (a value was edited)."""
        return [self.schedule.currentTextChanged, self.weight_decay.valueChanged,
                self.batch_size.valueChanged, self.flip.toggled, self.batchnorm.toggled,
                self.actdiff_layer.currentTextChanged]

    def show_recipe(self, form: dict[str, Any]) -> None:
        """Show the recipe the whole form (``form``: method, lam, epochs, lr and
        :meth:`values`) matches, else "Custom"."""
        def same(recipe: dict[str, Any]) -> bool:
            keys = [k for k in recipe if k != "label"]
            return all(_close(form.get(k), recipe[k]) for k in keys)

        key = next((k for k, r in RECIPES.items() if same(r)), None)
        self.recipe.setCurrentIndex(self.recipe.findData(key) if key else
                                    self.recipe.findText(CUSTOM))

    def set_layers(self, names: list[str]) -> None:
        """The layer choices for ActDiff (the model's spatial layers, deepest last)."""
        current = self.actdiff_layer.currentText()
        self.actdiff_layer.clear()
        self.actdiff_layer.addItem(TARGET_LAYER)
        self.actdiff_layer.addItems(names)
        if current and current != TARGET_LAYER:
            self.actdiff_layer.setCurrentText(current)

    def set_actdiff(self, enabled: bool) -> None:
        self.actdiff_layer.setEnabled(enabled)

    def values(self, method: str) -> dict[str, Any]:
        layer = self.actdiff_layer.currentText().strip()
        return {"schedule": self.schedule.currentText(),
                "weight_decay": self.weight_decay.value(),
                "batch_size": self.batch_size.value(), "flip": self.flip.isChecked(),
                "train_batchnorm": self.batchnorm.isChecked(),
                "actdiff_layer": layer if method == "actdiff" and layer and
                layer != TARGET_LAYER else None}

    def apply(self, options: dict[str, Any]) -> None:
        """Set the option widgets from a recipe's values."""
        self.schedule.setCurrentText(options.get("schedule", "constant"))
        self.weight_decay.setValue(float(options.get("weight_decay", 0.0)))
        self.batch_size.setValue(int(options.get("batch_size", 16)))
        self.flip.setChecked(bool(options.get("flip", False)))
        self.batchnorm.setChecked(bool(options.get("train_batchnorm", False)))
        self.actdiff_layer.setCurrentText(options.get("actdiff_layer") or TARGET_LAYER)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
        except (TypeError, ValueError):
            return False
    return a == b


def model_layers(model: Any) -> list[str]:
    """The names of a loaded 2-D model's layers with a spatial output (deepest last)."""
    from coloc_viewer.explain.layers import list_layers

    card = model.card
    if card.spatial_dims != 2:
        return []
    found = list_layers(model.module, (card.in_channels, *card.input_size), model.device)
    return [info.name for info in found if info.n_cells > 1]


def fill_roi_boxes(lesion_box: Any, shortcut_box: Any, organ_box: Any, rois: Any) -> None:
    """The ROI choices: the lesion (the ROI called lesion, else the active one), a shortcut
    ROI called marker and an organ ROI called prostate, gland or organ when there is one."""
    names = [r.name for r in rois] if rois is not None else []
    lesion_box.clear()
    lesion_box.addItems(names)
    lesion = default_lesion_roi(rois)
    if lesion is not None:
        lesion_box.setCurrentText(lesion)
    others = [n for n in names if n != lesion]
    for box, default in ((shortcut_box, "marker" if "marker" in others else None),
                         (organ_box, next((n for n in ORGAN_NAMES if n in others), None))):
        box.clear()
        box.addItem(NO_SHORTCUT)
        box.addItems(others)
        if default is not None:
            box.setCurrentText(default)


def fill_model_box(box: QComboBox, options: list[Any], current: str | None,
                   registry: Any) -> None:
    """The models to refine: those the viewer cannot refine (several series, TorchScript,
    3-D...) greyed with the reason as their tooltip; ``current`` chosen when it can be
    refined, else the first that can. A card that cannot be read is left to Run's check."""
    box.clear()
    allowed = []
    for i, option in enumerate(options):
        box.addItem(option.label, option.key)
        try:
            refusal = card_refusal(registry.card(option.key))
        except ColocError:
            refusal = None
        if refusal:
            box.model().item(i).setEnabled(False)
            box.setItemData(i, refusal, Qt.ItemDataRole.ToolTipRole)
        else:
            allowed.append(option.key)
    chosen = current if current in allowed else (allowed[0] if allowed else current)
    box.setCurrentIndex(max(0, box.findData(chosen)))
