"""PACS client: DICOMweb and DIMSE search, retrieve into a per-user cache, and store.

Modules: ``servers`` (configured servers, passwords in the keyring), ``query`` (search
criteria and result rows), ``dicomweb`` (QIDO-RS/WADO-RS/STOW-RS), ``dimse`` (C-ECHO,
C-FIND, C-GET, C-MOVE, C-STORE), ``cache`` (the 0700 study cache with completeness markers
and a size limit), ``retrieve`` (one client for both protocols, progress and cancel),
``resolve`` (``pacs://SERVER/STUDY[/SERIES]`` inputs), ``orthanc_local`` (a throw-away local
Orthanc for tests and benchmarks). No Qt, no torch.
"""
