"""The ``kosmos.io/v1alpha1`` API: typed models, parsing, validation and CRD generation.

Pure: nothing in this package performs I/O.
"""
