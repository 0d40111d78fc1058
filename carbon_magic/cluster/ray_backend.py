"""Ray: each node's ``HostAgent`` runs in an actor pinned to that node.

``ensure_agents`` (at a tracked cell, while ``ray.is_initialized()``) gives every live node
that has none yet an actor, ``NodeAgent``, placed by ``NodeAffinitySchedulingStrategy``
with ``soft=False`` (on that node or nowhere) and asking for no CPU, so it never takes a
slot from the user's tasks. The actor is named after its node in the job's namespace and
made with ``get_if_exists``: another backend of the same job (a re-run, a new runtime) finds
the same actors, and they end with the job (the kernel's driver). A node that joins later
gets its actor at the next cell; one that left is no longer asked.

``read_hosts`` asks every actor at once and waits (``ray.wait``) at most the bound; an actor
that did not answer in time, or died with its node, is a ``HostMissing`` with the reason
(a dead actor is forgotten: the next ``ensure_agents`` makes a new one if its node lives).
Several nodes of one machine share one sampler (the agents' leader election); ``by_host``
keeps the leader's reading.

In ``tracking_mode="process"`` a host's workers are the node's Ray worker processes (the
raylet's children): the actor names them to its agent before each reading.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from .host_agent import HostAgent
from .reading import HostAnswer, HostMissing, by_host, unknown_host

ACTOR_NAME = "carbon_magic.host_agent.{node_id}"


class NodeAgent:
    """What runs in a node's actor: the node's ``HostAgent``."""

    def __init__(self) -> None:
        self.agent = HostAgent()

    def answer(self) -> HostAnswer:
        """The host's reading (or why there is none), the node's Ray workers named first."""
        self._name_workers()
        return self.agent.answer()

    def _name_workers(self) -> None:
        """The node's Ray workers (the raylet's children titled ``ray::...``, this actor among
        them; not its agents) as the agent's worker processes (one that ended is dropped by the
        agent's next reading)."""
        import psutil

        workers = self.agent.folder / "workers"
        try:
            siblings = psutil.Process(os.getppid()).children()
        except psutil.Error:
            return
        for process in siblings:
            path = workers / str(process.pid)
            try:
                if path.exists() or not process.cmdline()[0].startswith("ray::"):
                    continue
            except (psutil.Error, IndexError):
                continue
            path.write_text("ray worker\n")


class RayBackend:
    """The kernel's end of Ray (see the module docstring)."""

    name = "ray"

    def __init__(self) -> None:
        self._actors: dict[str, Any] = {}  # node id -> the actor handle of its NodeAgent
        self._hosts: dict[str, str] = {}  # node id -> host id, once its actor answered
        self._actor_class: Any = None
        self._lock = threading.Lock()  # the kernel reads from several threads (a window's start, end, live)

    def active(self) -> bool:
        ray = sys.modules.get("ray")
        return ray is not None and ray.is_initialized()

    def ensure_agents(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        with self._lock:
            if self._actor_class is None:
                self._actor_class = ray.remote(NodeAgent)
            alive = [node for node in ray.nodes() if node["Alive"]]
            for gone in self._actors.keys() - {node["NodeID"] for node in alive}:
                del self._actors[gone]  # a node that left the cluster: its host is no longer asked
            for node in alive:
                node_id = node["NodeID"]
                if node_id in self._actors:
                    continue
                self._actors[node_id] = self._actor_class.options(
                    name=ACTOR_NAME.format(node_id=node_id), get_if_exists=True, num_cpus=0, max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote()

    def read_hosts(self, timeout_s: float) -> dict[str, HostAnswer]:
        import ray

        with self._lock:
            actors = dict(self._actors)
        calls = {actor.answer.remote(): node_id for node_id, actor in actors.items()}
        if not calls:
            return {}
        ready, _late = ray.wait(list(calls), num_returns=len(calls), timeout=max(timeout_s, 0.0))
        answers: list[HostAnswer] = []
        for call, node_id in calls.items():
            host = self._hosts.get(node_id) or unknown_host(f"on Ray node {node_id[:12]}")
            if call not in ready:
                answers.append(HostMissing(host, f"its Ray actor gave no reading within {timeout_s:g} s"))
                continue
            try:
                answer = ray.get(call)
            except ray.exceptions.RayError as error:
                with self._lock:
                    self._actors.pop(node_id, None)
                answers.append(HostMissing(host, f"its Ray actor failed: {type(error).__name__}"))
                continue
            self._hosts[node_id] = answer.host_id
            answers.append(answer)
        return by_host(answers)

    def close(self) -> None:
        """Forget the actors (they end with the job)."""
        with self._lock:
            self._actors.clear()
            self._hosts.clear()
