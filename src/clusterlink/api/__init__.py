"""The ``kosmos.io/v1alpha1`` API: typed models, parsing, validation and CRD generation.

Pure: nothing here performs I/O, except the CRD generator's command-line entry point
(``python -m clusterlink.api.crds --write DIR``, run by ``make crds``).
"""
