"""PACS client: DICOMweb and DIMSE search, retrieve into a per-user cache, and store."""
