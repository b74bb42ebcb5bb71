"""The HTML report opens in a Qt text renderer and shows its images (PNG under artifacts/)."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.image as mpimg
import numpy as np

from coloc_viewer import score
from coloc_viewer.report import MapPanel, case_report, legend_lines, write_html_report
from coloc_viewer.report.figures import MAP_CMAP


def test_html_report_renders_with_its_images(phi_case, artifacts_dir, qapp) -> None:
    from PySide6.QtGui import QImage, QPainter, QTextDocument

    k = phi_case.slice_index
    sal = phi_case.saliency
    report = case_report(phi_case.volume, k, phi_case.roi, [
        MapPanel("top channel", sal, score(sal, phi_case.roi[k]), model="demo", layer="layer4",
                 method="top channel", rank="max")])
    path = write_html_report(report, artifacts_dir / "report_case.html")
    html = path.read_text()
    import coloc_viewer

    assert f"coloc_viewer {coloc_viewer.__version__}" in html
    assert report.series_uid in html and f"path hash {report.source_hash}" in html
    for definition_title in ("Relevance mass", "AUROC", "p-value", "Seed overlap"):
        assert definition_title in html
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 2  # the slice with its ROI, and the overlay
    overlay = mpimg.imread(io.BytesIO(base64.b64decode(images[1])), format="png")
    assert overlay.shape[0] > 300 and overlay.shape[1] > 300

    doc = QTextDocument()
    doc.setHtml(html)
    doc.setTextWidth(900)
    size = doc.size()
    image = QImage(int(size.width()), int(size.height()), QImage.Format.Format_RGB32)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    doc.drawContents(painter)
    painter.end()
    assert image.save(str(artifacts_dir / "report_case.png"))

    ptr = image.constBits()
    rgb = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    rgb = rgb[:, : image.width(), 2::-1].astype(int)  # BGRA -> RGB
    # the colour bar and overlay use the map's colormap: strongly coloured pixels exist only
    # if the embedded images were decoded and drawn (text and tables are grey/black)
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    assert (saturation > 80).sum() > 2000
    # the ROI outline colour (cyan) is drawn too
    cyan = (rgb[..., 0] < 80) & (rgb[..., 1] > 180) & (rgb[..., 2] > 200)
    assert cyan.sum() > 100
    assert MAP_CMAP in ("inferno", "magma", "viridis", "turbo")


def test_legend_lines_name_everything_needed() -> None:
    lines = legend_lines("demo-resnet18", "layer4", "gradcam", "common [0, 3.2]",
                         {"relevance_mass": 0.4321, "p_value": 0.0031, "pointing_game": True,
                          "auroc": None}, target=1, rank="contribution")
    assert lines == ["demo-resnet18 / layer4", "gradcam, rank contribution, target 1",
                     "scale: common [0, 3.2]", "mass 0.432  AUROC n/a  pointing yes  p 0.003"]
