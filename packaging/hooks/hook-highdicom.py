"""PyInstaller hook for highdicom: its data folders (``_standard``: the DICOM standard's
module/IOD tables it validates against; ``_icc_profiles``) are read from the package folder
at run time, and it checks optional dependencies through its own metadata. Without them
reading a DICOM SEG fails with FileNotFoundError in the frozen program."""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("highdicom") + copy_metadata("highdicom")
