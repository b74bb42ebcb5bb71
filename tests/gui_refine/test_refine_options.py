"""The refine dialog's training options, driven with real key events: the demo-refined
recipe sets the whole form, ActDiff's layer is chosen from the model's own layers (and is
off for the other methods), and every option reaches the refined card."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from refine_gui_helpers import choose, open_demo, open_refine_from_menu, type_into

from coloc_viewer.gui.refine_options import CUSTOM, TARGET_LAYER

pytestmark = pytest.mark.gui


def test_recipe_and_options_reach_the_refined_card(qtbot, window, demo, tmp_path,
                                                    artifacts_dir):
    open_demo(qtbot, window, demo)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.select_model("demo-shortcut")
    dialog = open_refine_from_menu(qtbot, window)
    opts = dialog.options
    assert opts.schedule.currentText() == "constant" and not opts.flip.isChecked()
    choose(qtbot, dialog.method_box, "rrr")
    assert not opts.actdiff_layer.isEnabled()  # ActDiff's layer: not for rrr
    choose(qtbot, opts.recipe, "demo-refined")  # the recipe that made demo-refined
    assert dialog.method_box.currentData() == "actdiff" and opts.actdiff_layer.isEnabled()
    assert (dialog.lam.value(), dialog.epochs.value(), dialog.lr.value()) == (0.01, 4, 0.002)
    assert opts.recipe.currentData() == "demo-refined"
    assert (opts.schedule.currentText(), opts.weight_decay.value(), opts.batch_size.value(),
            opts.flip.isChecked(), opts.batchnorm.isChecked()) == ("cosine", 1e-4, 32, True,
                                                                   True)
    layers = [opts.actdiff_layer.itemText(i) for i in range(opts.actdiff_layer.count())]
    assert {"layer3", "layer4"} <= set(layers)  # the loaded resnet18's own layers
    choose(qtbot, opts.actdiff_layer, "layer4")
    assert opts.recipe.currentText() == CUSTOM  # the form no longer is the recipe
    choose(qtbot, opts.actdiff_layer, TARGET_LAYER)
    assert opts.recipe.currentData() == "demo-refined"  # and is again
    choose(qtbot, opts.actdiff_layer, "layer4")
    type_into(qtbot, dialog.epochs, "1")
    assert opts.recipe.currentText() == CUSTOM
    choose(qtbot, dialog.slices_box, "balanced")  # 8 slices: a tiny run
    out = tmp_path / "recipe"
    type_into(qtbot, dialog.out, str(out))
    dialog.grab().save(str(artifacts_dir / "gui_refine_options.png"))
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert not opts.schedule.isEnabled()  # the form is locked while it runs
    qtbot.waitUntil(lambda: dialog.message is not None and dialog.message.isVisible(),
                    timeout=60000)
    assert dialog.message.windowTitle() != "Cannot refine", dialog.message.text()
    card = window.registry.get(str(Path(out) / "demo-shortcut-actdiff.json")).card
    info = card.refine
    assert (info["method"], info["lambda"], info["epochs"], info["lr"]) == \
        ("actdiff", 0.01, 1, 0.002)
    assert (info["schedule"], info["weight_decay"], info["batch_size"], info["flip"],
            info["train_batchnorm"], info["actdiff_layer"]) == ("cosine", 1e-4, 32, True,
                                                                True, "layer4")
    assert opts.schedule.isEnabled()
    # back to the defaults; another method never sends an ActDiff layer
    choose(qtbot, opts.recipe, "defaults")
    choose(qtbot, dialog.method_box, "gradmask")
    assert opts.recipe.currentData() == "defaults"  # the defaults name no method
    req = dialog.current_request()
    assert (req.schedule, req.flip, req.batch_size, req.actdiff_layer, req.lam) == \
        ("constant", False, 16, None, 1.0)


def test_models_the_viewer_cannot_refine_are_greyed_with_the_reason(qtbot, window, demo):
    """A review found demo-mpmri (three series) preselected, refused only after Run; and
    the Recipe box below the fields it sets."""
    from PySide6.QtWidgets import QFormLayout

    open_demo(qtbot, window, demo)
    window.state.choices.set(model="demo-mpmri")  # as if the reader were on it
    dialog = open_refine_from_menu(qtbot, window)
    box = dialog.model_box
    keys = [box.itemData(i) for i in range(box.count())]
    assert "demo-mpmri" in keys and "demo-shortcut" in keys
    i = keys.index("demo-mpmri")
    assert not box.model().item(i).isEnabled()
    assert "single-series" in box.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert box.currentData() != "demo-mpmri" and box.model().item(box.currentIndex()).isEnabled()
    assert box.model().item(keys.index("demo-shortcut")).isEnabled()
    form = dialog.layout().itemAt(0).layout()
    assert isinstance(form, QFormLayout)
    rows = [form.itemAt(r, QFormLayout.ItemRole.FieldRole).widget() for r in range(3)]
    assert rows[:2] == [dialog.model_box, dialog.options.recipe]  # the recipe comes first
