"""PyInstaller hook: every coloc_viewer module (subcommands and GUI parts are imported by
name at run time) and the metadata of the libraries whose versions are checked at run time."""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("coloc_viewer")
# Model families looked up by name in their own registries (cards say "monai:CLASS" or
# "timm:NAME"): every network module must be in the bundle, not only those imported here.
hiddenimports += collect_submodules("monai.networks") + collect_submodules("timm.models")
hiddenimports += collect_submodules("timm.layers")
datas = []
for dist in ("pydicom", "highdicom", "SimpleITK", "safetensors", "platformdirs", "numpy",
             "torch", "torchvision", "PySide6_Essentials", "pyqtgraph", "scipy", "monai",
             "timm"):
    datas += copy_metadata(dist)
