"""The series of the compare panes' multi-series models (a mixin of
:class:`~coloc_viewer.gui.compare_window.CompareWindow`): a thin view over
:class:`~coloc_viewer.viewer.compare_inputs.PaneInputs`. The worker resolves each pane's
roles; when a pattern matches none or several series, the main window's dialog asks, one
question at a time, and the panes are analysed again with the reader's choice."""

from __future__ import annotations

from typing import Any

from coloc_viewer.gui.series_roles_dialog import SeriesRolesDialog
from coloc_viewer.viewer.compare_inputs import PaneInputs, RoleInputs
from coloc_viewer.viewer.series_roles import RolePlan


class CompareRoles:
    """Methods of the compare window (uses ``panes``, ``registry``, ``_request``,
    ``_pending``, ``_errors``, ``status`` and ``analyse``)."""

    roles_dialog: SeriesRolesDialog | None = None

    @property
    def pane_inputs(self) -> PaneInputs:
        """The decided series of the panes' models; choices are remembered per study in
        the main window's store (the window that opens this one sets ``store``)."""
        if self.__dict__.get("_pane_inputs") is None:
            from coloc_viewer.gui.settings import workspace_root
            from coloc_viewer.workspace.role_choices import RoleChoices

            self._pane_inputs = PaneInputs(RoleChoices(workspace_root()))
        return self._pane_inputs

    def known_inputs(self, pane: Any) -> RoleInputs | None:
        """The decided series of ``pane``'s model on its study (no file access)."""
        name = pane.spec().model
        if not name or not self.registry.is_loaded(name):
            return None
        return self.pane_inputs.known(self.registry.get(name), pane.study.volume)

    def _on_ask(self, request: int, index: int, plan: RolePlan) -> None:
        """Pane ``index`` waits for the reader to choose its model's series."""
        if request != self._request or index >= len(self.panes):
            return
        asking = self.__dict__.setdefault("_asking", {})
        if asking.get("request") != request:
            asking.clear()
            asking["request"], asking["panes"] = request, set()
        asking["panes"].add(index)
        dialog = self.roles_dialog
        if dialog is not None and dialog.isVisible():
            return  # one question at a time: after its answer the panes are asked again
        volume = self.panes[index].study.volume
        self.status.showMessage(f"pane {self.panes[index].letter}: {plan.question}")
        dialog = SeriesRolesDialog(plan, self)
        self.roles_dialog = dialog
        dialog.accepted.connect(lambda: self._roles_chosen(volume, dialog.plan()))
        dialog.rejected.connect(self._roles_rejected)
        dialog.open()

    def _roles_chosen(self, volume: Any, plan: RolePlan) -> None:
        self.pane_inputs.choose(volume, plan)
        self.analyse()  # a new request: the chosen series now serve every pane

    def _roles_rejected(self) -> None:
        asking = self.__dict__.get("_asking") or {}
        if asking.get("request") != self._request:
            return
        for index in asking.get("panes", ()):
            if index < len(self.panes):
                message = "No series chosen for the model's inputs."
                self._errors[index] = message
                self._pending.discard(index)
                self.panes[index].show_notice(message)
        asking.clear()
        self._fill_table()
        if not self._pending:
            self.results_ready.emit()
