"""Qt-free imaging layer: volumes, DICOM series, ROI masks and ROI I/O."""
