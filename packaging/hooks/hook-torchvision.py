"""PyInstaller hook for torchvision (overrides the contrib hook, which looks for the old
``torchvision._C`` extension): torchvision >= 0.29 loads its operator libraries
``_C_stable.so`` and ``image_stable.so`` with ``torch.ops.load_library`` from its package
folder. Without them ``import torchvision`` fails with "operator torchvision::nms does not
exist"."""

from PyInstaller.utils.hooks import collect_dynamic_libs

module_collection_mode = "pyz+py"
binaries = collect_dynamic_libs(
    "torchvision", search_patterns=["*.so", "*.so.*", "*.dll", "*.dylib", "*.pyd"])
