"""PyInstaller hook: pylibjpeg finds its codec plugins through entry points, so the plugins'
dist-info metadata must travel with their modules (without it pydicom silently loses the
JPEG, JPEG-LS, JPEG 2000 and RLE decoders in the frozen program)."""

from PyInstaller.utils.hooks import collect_dynamic_libs, copy_metadata

PLUGINS = {"pylibjpeg-libjpeg": "libjpeg", "pylibjpeg-openjpeg": "openjpeg",
           "pylibjpeg-rle": "rle"}

datas = copy_metadata("pylibjpeg")
hiddenimports = []
binaries = []
for dist, module in PLUGINS.items():
    datas += copy_metadata(dist)
    hiddenimports.append(module)
    binaries += collect_dynamic_libs(module)
