"""The lab: a virtual multi-cluster federation on one Linux host, built from network
namespaces, running every ClusterLink component as its own process (``kosmosctl lab``).

Modules, each with one job: :mod:`.naming` (predictable names), :mod:`.addressing` (every
address, pure), :mod:`.topology` (namespaces, links, routes), :mod:`.state` (what was
created), :mod:`.processes` (component processes), :mod:`.objects` (Nodes, Pods,
Clusters), :mod:`.stand_ins` (for components not installed), :mod:`.readiness` (when the
lab is ready), :mod:`.report` (status and ping matrix) and :mod:`.lab` (orchestration).
"""
