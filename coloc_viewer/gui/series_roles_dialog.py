"""Which series plays which input role: one combo box per role of a multi-series model
(a thin view over :class:`coloc_viewer.viewer.series_roles.RolePlan`)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from coloc_viewer.viewer.series_roles import RolePlan


class SeriesRolesDialog(QDialog):
    """Lists the study's series (description, matrix, spacing) for each role; the open
    series plays the first role. ``plan()`` is the reader's choice once accepted."""

    def __init__(self, plan: RolePlan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("series-roles-dialog")
        self.setWindowTitle(f"Series for the inputs of {plan.model}")
        self._plan = plan
        self.intro = intro = QLabel(plan.question or "Choose which series of this study plays "
                                    "each input role of the model.")
        intro.setWordWrap(True)
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #ff8a80;")
        self.problem.setWordWrap(True)
        form = QFormLayout()
        self.boxes: dict[str, QComboBox] = {}
        for i, spec in enumerate(plan.roles):
            box = QComboBox()
            box.setObjectName(f"role-{spec.role}")
            for s in plan.candidates(spec.role):
                box.addItem(s.label(), s.series_key)
            guess = plan.guess(spec.role)
            if guess is not None and box.findData(guess) >= 0:
                box.setCurrentIndex(box.findData(guess))
            if i == 0:
                box.setEnabled(False)
                box.setToolTip(f"The open series plays {spec.role} (maps and scores are on its "
                               f"grid); open another series to use it as {spec.role}.")
            else:
                box.setToolTip(f"Series for {spec.role} (pattern /{spec.pattern}/)")
            box.currentIndexChanged.connect(self._check)
            self.boxes[spec.role] = box
            form.addRow(f"{spec.role}:", box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self._check()

    def assignment(self) -> dict[str, str]:
        return {role: str(box.currentData()) for role, box in self.boxes.items()
                if box.currentData() is not None}

    def _check(self, _index: int = 0) -> None:
        try:
            self._plan.with_choice(self.assignment())
            message = ""
        except ValueError as err:
            message = str(err)[:1].upper() + str(err)[1:] + "."
        self.problem.setText(message)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not message)

    def plan(self) -> RolePlan:
        """The plan with the chosen series (call after the dialog was accepted)."""
        return self._plan.with_choice(self.assignment())
