"""PyInstaller hook: pyjpegls (module ``jpeg_ls``, pydicom's JPEG-LS encoder/decoder plugin);
pydicom checks its version through the distribution metadata."""

from PyInstaller.utils.hooks import collect_dynamic_libs, copy_metadata

datas = copy_metadata("pyjpegls")
binaries = collect_dynamic_libs("jpeg_ls")
