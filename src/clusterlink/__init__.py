"""ClusterLink: multi-cluster L3 connectivity for Kubernetes over VXLAN tunnels.

Layers (dependencies point down only): ``cli`` on top of the components, which use
``planner`` (pure), ``dataplane`` (Linux) and ``api`` (models, validation, CRDs).
"""

__version__ = "0.1.0"
