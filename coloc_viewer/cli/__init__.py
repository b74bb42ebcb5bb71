"""The coloc-viewer command line."""
