"""The planner: the network-manager's pure, deterministic core.

Input: clusters, cluster nodes and the previous node configurations. Output: the desired
``NodeConfig.spec`` of every node, plus problems per input object. See
:func:`plan_federation` (full computation) and :class:`Planner` (incremental).
"""

from clusterlink.planner.addressing import MacSource, random_mac, stable_mac
from clusterlink.planner.plan import NodePlan
from clusterlink.planner.planner import FederationPlan, PlanDelta, Planner, plan_federation

__all__ = [
    "FederationPlan",
    "MacSource",
    "NodePlan",
    "PlanDelta",
    "Planner",
    "plan_federation",
    "random_mac",
    "stable_mac",
]
