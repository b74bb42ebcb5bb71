"""The bundled demo: a seeded generator of synthetic axial T2 pelvic MRI cases.

``phantom.generate_case(seed)`` draws one case with lesion, prostate and marker masks;
``dataset.slice_samples`` turns cases into slice-level training/validation samples.
numpy only (the import contract forbids torch and Qt here).
"""
