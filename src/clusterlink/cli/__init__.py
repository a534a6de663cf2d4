"""Command-line entry points: ``kosmosctl`` (users) and ``clusterlink`` (component daemons)."""
