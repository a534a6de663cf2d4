"""Level-triggered controllers over the store: watch -> cache -> queue -> reconcile.

Each component (``clusterlink <component>``) is one controller built from the pieces here:
:mod:`.informer` (cache), :mod:`.queue` (work queue), :mod:`.leader` (leader election).
"""
