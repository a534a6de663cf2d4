"""The agent's iptables state: the spec's NAT rules in our own chains hooked first, FORWARD
accepts and MSS clamping for our devices, with either backend, never touching other chains."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from clusterlink.api.errors import ObjectRef
from clusterlink.api.models import Iptables, NodeConfigSpec
from clusterlink.dataplane import converge
from clusterlink.dataplane import iptables as ipt
from clusterlink.dataplane.apply import execute
from clusterlink.dataplane.netns import Namespace
from clusterlink.dataplane.plan import make_plan
from clusterlink.dataplane.state import read_actual
from clusterlink.dataplane.sysctl import wanted_settings
from tests.dataplane.lab import Lab, Node, p2p_spec, sh

A1, B1 = Node("a1", "a", 11), Node("b1", "b", 21)
NETMAP = Iptables(
    table="nat", chain="PREROUTING", rule="-d 10.99.0.0/16 -j NETMAP --to 10.20.0.0/16"
)
SNAT4 = Iptables(
    table="nat", chain="POSTROUTING", rule="-s 10.20.0.0/16 -d 10.99.0.0/16 -j MASQUERADE"
)
SNAT6 = Iptables(
    table="nat", chain="POSTROUTING", rule="-s fd33:10::/32 -d fd33:20::/32 -j MASQUERADE"
)


def save(ns: str, family: int = 4, tool: str = "", table: str | None = None) -> list[str]:
    program = tool or ("iptables-save" if family == 4 else "ip6tables-save")
    out = sh("ip", "netns", "exec", ns, program, *(("-t", table) if table else ())).stdout
    return [line for line in out.splitlines() if line[:1] not in ("#", "")]


def with_rules(spec: NodeConfigSpec, *rules: Iptables) -> NodeConfigSpec:
    return spec.model_copy(update={"iptables": rules})


def test_spec_rules_go_into_our_chains_hooked_first_and_leave_with_the_spec(lab: Lab) -> None:
    lab.build([A1, B1])
    node = lab.ns("a1")
    spec = p2p_spec(A1, [B1])
    sh("ip", "netns", "exec", node, "iptables", "-t", "nat", "-A", "PREROUTING", "-j", "RETURN")

    first = converge(with_rules(spec, NETMAP, SNAT6), node)

    assert first.converged, first.failed
    v4, v6 = save(node, 4), save(node, 6)
    assert "-A CLUSTERLINK-PREROUTING -d 10.99.0.0/16 -j NETMAP --to 10.20.0.0/16" in v4
    assert "-A CLUSTERLINK-POSTROUTING -s fd33:10::/32 -d fd33:20::/32 -j MASQUERADE" in v6
    prerouting = [line for line in v4 if line.startswith("-A PREROUTING")]
    assert prerouting == ["-A PREROUTING -j CLUSTERLINK-PREROUTING", "-A PREROUTING -j RETURN"]
    assert converge(with_rules(spec, NETMAP, SNAT6), node).applied == ()

    dropped = converge(with_rules(spec, SNAT6), node)

    assert [str(c) for c in dropped.applied] == ["delete iptables -t nat -X CLUSTERLINK-PREROUTING"]
    v4 = save(node, 4)
    assert not any("CLUSTERLINK-PREROUTING" in line for line in v4)
    assert "-A PREROUTING -j RETURN" in v4
    assert "-A CLUSTERLINK-POSTROUTING -s fd33:10::/32 -d fd33:20::/32 -j MASQUERADE" in save(
        node, 6
    )


def test_a_node_without_spec_rules_has_no_nat_hook(lab: Lab) -> None:
    """No connection tracking for forwarded tunnel traffic when nothing is translated."""
    lab.build([A1, B1])
    node = lab.ns("a1")
    converge(with_rules(p2p_spec(A1, [B1]), NETMAP), node)

    converge(p2p_spec(A1, [B1]), node)

    assert not any("CLUSTERLINK-P" in line for line in save(node, 4) + save(node, 6))
    assert "-A FORWARD -j CLUSTERLINK-MSS" in save(node, 4, table="mangle")


def test_nat_hook_pushed_down_by_another_rule_is_put_back_first(lab: Lab) -> None:
    lab.build([A1, B1])
    node = lab.ns("a1")
    spec = with_rules(p2p_spec(A1, [B1]), SNAT4)
    converge(spec, node)
    sh("ip", "netns", "exec", node, "iptables", "-t", "nat", "-I", "POSTROUTING", "1",
       "-j", "MASQUERADE")  # fmt: skip

    result = converge(spec, node)

    assert [str(c) for c in result.applied] == [
        "create iptables -t nat -I POSTROUTING 1 -j CLUSTERLINK-POSTROUTING"
    ]
    postrouting = [line for line in save(node, table="nat") if line.startswith("-A POSTROUTING")]
    assert postrouting == [
        "-A POSTROUTING -j CLUSTERLINK-POSTROUTING",
        "-A POSTROUTING -j MASQUERADE",
    ]


def test_forward_accepts_come_after_the_cni_rules_and_beat_a_drop_policy(lab: Lab) -> None:
    lab.build([A1, B1])
    for name in ("a1", "b1"):
        sh("ip", "netns", "exec", lab.ns(name), "iptables", "-A", "FORWARD", "-i", "pod0",
           "-d", "10.0.0.0/8", "-p", "udp", "-j", "DROP")  # fmt: skip
        sh("ip", "netns", "exec", lab.ns(name), "iptables", "-P", "FORWARD", "DROP")
        sh("ip", "netns", "exec", lab.ns(name), "ip6tables", "-P", "FORWARD", "DROP")
    for node, peer in ((A1, B1), (B1, A1)):
        converge(p2p_spec(node, [peer]), lab.ns(node.name))

    forward = [line for line in save(lab.ns("a1"), table="filter") if line.startswith("-A FORWARD")]
    assert forward == [
        "-A FORWARD -d 10.0.0.0/8 -i pod0 -p udp -j DROP",
        "-A FORWARD -j CLUSTERLINK-FORWARD",
    ]
    assert lab.ping("a1-pod", B1.pod4)
    assert lab.ping("a1-pod", B1.pod6)


def test_forward_accepts_and_mss_clamping_cover_each_device(lab: Lab) -> None:
    lab.build([A1, B1])
    node = lab.ns("a1")
    converge(p2p_spec(A1, [B1]), node)

    v4, v6 = save(node, 4), save(node, 6)
    syn = "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS"
    assert "-A FORWARD -j CLUSTERLINK-FORWARD" in v4
    assert "-A CLUSTERLINK-FORWARD -i vx-bridge -j ACCEPT" in v4
    assert "-A CLUSTERLINK-FORWARD -o vx-bridge -j ACCEPT" in v4
    assert [line for line in v4 if "CLUSTERLINK-MSS" in line and line.startswith("-A")] == [
        "-A FORWARD -j CLUSTERLINK-MSS",
        f"-A CLUSTERLINK-MSS -o vx-bridge {syn} --clamp-mss-to-pmtu",
        f"-A CLUSTERLINK-MSS -i vx-bridge {syn} --set-mss 1410",
    ]
    assert f"-A CLUSTERLINK-MSS -o vx-bridge-6 {syn} --clamp-mss-to-pmtu" in v6
    assert f"-A CLUSTERLINK-MSS -i vx-bridge-6 {syn} --set-mss 1370" in v6


_SERVER = """
import socket, sys
server = socket.create_server(("0.0.0.0", 5001))
server.settimeout(20)
conn, _ = server.accept()
conn.settimeout(8)
total = 0
try:
    while chunk := conn.recv(65536):
        total += len(chunk)
except TimeoutError:
    pass
print(total)
"""
_CLIENT = """
import socket, sys
conn = socket.create_connection((sys.argv[1], 5001), timeout=5)
conn.settimeout(5)
conn.sendall(b"x" * 2_000_000)
conn.close()
"""


def _transfer(lab: Lab) -> bool:
    """2 MB of TCP from a1's pod to b1's pod; False when it stalls."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("b1-pod"), sys.executable, "-c", _SERVER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        client = sh(
            "ip", "netns", "exec", lab.ns("a1-pod"), sys.executable, "-c", _CLIENT, B1.pod4,
            check=False,
        )  # fmt: skip
        received, _ = server.communicate(timeout=25)
        return client.returncode == 0 and received.strip() == "2000000"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_tcp_crosses_a_path_whose_fragmentation_needed_icmp_is_dropped(lab: Lab) -> None:
    lab.build([A1, B1])
    for node, peer in ((A1, B1), (B1, A1)):
        converge(p2p_spec(node, [peer]), lab.ns(node.name))
    for name in ("a1", "b1"):  # a PMTU black hole: the nodes' own ICMP never leaves
        sh("ip", "netns", "exec", lab.ns(name), "iptables", "-A", "OUTPUT", "-p", "icmp",
           "--icmp-type", "fragmentation-needed", "-j", "DROP")  # fmt: skip

    assert _transfer(lab), "TCP must get through with the agent's MSS clamping"

    for name in ("a1", "b1"):
        sh("ip", "netns", "exec", lab.ns(name), "iptables", "-t", "mangle", "-F", ipt.CHAIN_MSS)
    assert not _transfer(lab), "without clamping the same path stalls (the test's premise)"


def test_a_refused_rule_fails_alone_and_the_rest_of_the_chain_converges(lab: Lab) -> None:
    lab.build([A1, B1])
    node = lab.ns("a1")
    refused = Iptables(table="nat", chain="POSTROUTING", rule="-j NO-SUCH-CHAIN")

    result = converge(with_rules(p2p_spec(A1, [B1]), refused, NETMAP), node)

    assert [str(f.change) for f in result.failed] == [
        "create iptables -t nat -A CLUSTERLINK-POSTROUTING -j NO-SUCH-CHAIN"
    ]
    assert "NO-SUCH-CHAIN" in result.failed[0].message
    assert "-A CLUSTERLINK-PREROUTING -d 10.99.0.0/16 -j NETMAP --to 10.20.0.0/16" in save(node)
    assert "-A POSTROUTING -j CLUSTERLINK-POSTROUTING" in save(node)


@pytest.mark.skipif(not shutil.which("iptables-legacy-save"), reason="needs iptables-legacy")
def test_legacy_backend_converges_and_is_idempotent(lab: Lab) -> None:
    lab.build([A1, B1])
    ns = Namespace(lab.ns("a1"))
    spec = with_rules(p2p_spec(A1, [B1]), NETMAP)
    legacy = {family: ipt.tools("legacy", family) for family in (4, 6)}
    ref = ObjectRef("NodeConfig", "a1")

    keys = [setting.key for setting in wanted_settings(spec)]
    actual = read_actual(ns, keys, iptables_tools=legacy)
    outcome = execute(make_plan(spec, actual, legacy, ref), ns)

    assert outcome.failures == []
    rules = save(lab.ns("a1"), tool="iptables-legacy-save")
    assert "-A PREROUTING -j CLUSTERLINK-PREROUTING" in rules
    assert "-A CLUSTERLINK-PREROUTING -d 10.99.0.0/16 -j NETMAP --to 10.20.0.0/16" in rules
    again = make_plan(spec, read_actual(ns, keys, iptables_tools=legacy), legacy, ref)
    assert again.changes == ()
