"""Colour scales, screenshots, case reports and the calibration file of the compare
window (a mixin of :class:`~coloc_viewer.gui.compare_window.CompareWindow`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from coloc_viewer.explain.choices import kind_label, map_kind
from coloc_viewer.gui import file_dialogs
from coloc_viewer.gui.screenshot_painter import tiled, with_legend
from coloc_viewer.report.legend import legend_lines
from coloc_viewer.report.phi import PhiGuard, patient_identity
from coloc_viewer.viewer.compare import SCALE_IMAGE, display_ranges, safe_stem, scale_groups
from coloc_viewer.viewer.settings import model_label


class CompareExports:
    """Methods of the compare window (uses its panes, studies, links and scale mode)."""

    def update_scales(self) -> None:
        """One colour scale per kind of map (common mode), or per image; each pane's
        label says which panes share its scale."""
        maps = [p.result.saliency if p.result is not None
                and p.result.slice_index == p.slice_index else None for p in self.panes]
        kinds = [map_kind(p.spec().map_choice) for p in self.panes]
        for pane, rng in zip(self.panes, display_ranges(maps, self.scale_mode(),
                                                        self.common_scale, kinds)):
            pane.set_display_range(rng)
        for pane in self.panes:
            pane.scale_text.setText(f"scale: {self.scale_label(pane)}")
            pane.canvas.colorbar.setToolTip(f"Colour scale: {self.scale_label(pane)}; the "
                                            "labels are the raw map values.")

    def scale_label(self, pane: Any) -> str:
        """"common to A, C (Grad-CAM) [0, 1.2]", "per-image [..]", "cohort calibration [..]"."""
        rng = pane.display_range
        values = "" if rng is None else f" [{rng[0]:.3g}, {rng[1]:.3g}]"
        if self.scale_mode() == SCALE_IMAGE or rng is None:
            return SCALE_IMAGE + values
        if self.common_scale is not None:
            return f"cohort calibration{values}"
        kinds = [map_kind(p.spec().map_choice) for p in self.panes]
        kind = map_kind(pane.spec().map_choice)
        sharing = scale_groups(kinds, [p.letter for p in self.panes])[kind]
        return f"common to {', '.join(sharing)} ({kind_label(kind)}){values}"

    def pane_legend(self, pane: Any) -> list[str]:
        spec = pane.spec()
        scores = pane.result.scores if pane.result is not None else None
        guard = PhiGuard(patient_identity(pane.study.volume))
        lines = legend_lines(spec.model, spec.layer or "default layer", spec.method_label(),
                             self.scale_label(pane), scores, target=spec.target, rank=spec.rank)
        head = f"{pane.letter}: {guard.clean(pane.study.label)}, slice {pane.slice_index + 1}"
        return [head, *lines]

    def screenshot(self, legend: bool = True) -> QImage:
        """All panes (canvas with colour bar) as laid out, each with its legend underneath."""
        cells = [with_legend(p.canvas.grab().toImage(), self.pane_legend(p) if legend else [])
                 for p in self.panes]
        return tiled(cells, 2 if len(self.panes) == 4 else len(self.panes))

    def save_screenshot(self, folder: str | Path, legend: bool = True) -> Path:
        """Save :meth:`screenshot` as PNG under a PHI-free name in ``folder``."""
        lead = self.panes[0]
        path = Path(folder) / f"{safe_stem(lead.study, lead.slice_index)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.screenshot(legend).save(str(path)):
            raise OSError(f"could not write {path}")
        return path

    def case_reports(self) -> list[Any]:
        """One CaseReport per study with the panes that show it (analysed panes only)."""
        from coloc_viewer.report.case import MapPanel, case_report

        reports = []
        for study in self.studies:
            panes = [p for p in self.panes if p.study is study and p.result is not None
                     and p.result.slice_index == p.slice_index]
            if not panes:
                continue
            k = panes[0].slice_index
            panels, cards = [], {}
            for p in panes:
                if p.slice_index != k:
                    continue
                spec, res = p.spec(), p.result
                expl = res.explanation
                layer = expl.layer if expl is not None else (spec.layer or "")
                # a refined or user card is keyed by its path: the name is what people read,
                # the key what the command to reproduce loads
                name = res.card.get("name") or model_label(spec.model)
                cards[name] = res.card
                panels.append(MapPanel(
                    f"{p.letter}: {name} / {layer} / {spec.method_label()}",
                    res.saliency, res.scores, model=name, model_ref=spec.model, layer=layer,
                    method=spec.map_choice,
                    target=expl.target if expl is not None else spec.target, rank=spec.rank,
                    channel=res.channel,
                    scale=None if self.scale_mode() == SCALE_IMAGE else p.display_range,
                    scale_label=self.scale_label(p).split(" [")[0],
                    prediction=expl.prediction if expl is not None else None))
            c, w = panes[0].window
            reports.append(case_report(
                study.volume, k, study.roi, panels, model_cards=list(cards.values()),
                window=(c, w), roi_name=study.roi_name, settings={
                    "compare_links": {"slice": self.link_slice.isChecked(),
                                      "zoom": self.link_zoom.isChecked(),
                                      "window": self.link_window.isChecked()},
                    "scale_mode": self.scale_mode()}))
        return reports

    def export_reports(self, folder: str | Path, include_phi: bool | None = None
                       ) -> list[dict[str, Path]]:
        from coloc_viewer.report.export import export_case

        phi = self.phi_box.isChecked() if include_phi is None else include_phi
        return [export_case(r, folder, include_phi=phi) for r in self.case_reports()]

    def _choose_screenshot(self) -> None:
        chosen = file_dialogs.folder(self, "Save screenshot in")
        if chosen:
            path = self.save_screenshot(chosen)
            self.status.showMessage(f"saved {path.name}", 5000)

    def _choose_export(self) -> None:
        if not self.case_reports():
            QMessageBox.information(self, "Export report", "Analyse the panes first.")
            return
        chosen = file_dialogs.folder(self, "Export report to")
        if chosen:
            written = self.export_reports(chosen)
            self.status.showMessage(f"exported {sum(len(w) for w in written)} files", 5000)

    def _choose_calibration(self) -> None:
        path = file_dialogs.open_file(self, "Common scale calibration", "Calibration (*.json)")
        if path:
            try:
                self.load_calibration(path)
            except Exception as exc:  # InputError: one clear line
                QMessageBox.warning(self, "Calibration", str(exc))
