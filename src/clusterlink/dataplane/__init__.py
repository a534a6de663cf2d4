"""The agent data plane: converge one host, or one network namespace, to a NodeConfig spec.

``converge`` reads the state the agent owns (its four VXLAN devices, table 200 and its rule,
FDB and permanent neighbour entries on its devices, its own iptables chains and the sysctls
the data path needs), diffs it against the desired spec and applies the difference in an
order that keeps traffic flowing. ``read_state`` returns that owned state as a spec.
Nothing else on the host is read for writing or touched.
"""

from clusterlink.dataplane.checks import InvalidSpecError
from clusterlink.dataplane.converge import Baseline, ConvergeResult, converge
from clusterlink.dataplane.plan import Change, Failure
from clusterlink.dataplane.state import read_state

__all__ = [
    "Baseline",
    "Change",
    "ConvergeResult",
    "Failure",
    "InvalidSpecError",
    "converge",
    "read_state",
]
