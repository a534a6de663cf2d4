"""The floater: a probe daemon on every node, in host network and in pod network.

The doctor (``kosmosctl dr``) hands each floater its whole probe plan through the cluster's
store and collects the results there, so the command line never needs to reach pod IPs.
Modules: :mod:`.plan` (the validated plan), :mod:`.outcome` (results), :mod:`.icmp`,
:mod:`.pmtu`, :mod:`.tcp` (probes), :mod:`.runner` (a plan, concurrently),
:mod:`.messages` (ConfigMaps that carry registrations, plans and results),
:mod:`.server` (what peers probe) and :mod:`.daemon` (the component).
"""
