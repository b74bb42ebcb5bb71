"""PyInstaller hook: every coloc_viewer module (subcommands and GUI parts are imported by
name at run time) and the metadata of the libraries whose versions are checked at run time."""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("coloc_viewer")
datas = []
for dist in ("pydicom", "highdicom", "SimpleITK", "safetensors", "platformdirs", "numpy",
             "torch", "torchvision", "PySide6_Essentials", "pyqtgraph", "scipy"):
    datas += copy_metadata(dist)
