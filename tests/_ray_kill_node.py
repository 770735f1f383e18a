"""Run by tests/test_shards_ray.py in its own process: a two-node cluster on this machine
(ray.cluster_utils.Cluster: a head without CPUs and two 1-CPU workers), a sharded job, and one
worker node killed mid-job. Every task pauses before its atomic rename, so the kill lands while
shards are in flight. Prints the run's report as JSON on the last line."""

from __future__ import annotations

import sys
import threading
import time

import orjson
import ray
from ray.cluster_utils import Cluster

from maskprep import shards

src, out = sys.argv[1], sys.argv[2]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
victim = cluster.add_node(num_cpus=1)
cluster.add_node(num_cpus=1)
try:
    ray.init(
        address=cluster.address,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"MASKPREP_TEST_PAUSE_BEFORE_RENAME": "0.4"}},
    )
    cluster.wait_for_nodes()
    result = {}

    def job() -> None:
        result["report"] = shards.run(src, out, engine="ray")

    t = threading.Thread(target=job)
    t.start()
    time.sleep(2.5)  # a few shards done, others in flight on both nodes

    done_at_kill = len(shards.completed(out))
    cluster.remove_node(victim, allow_graceful=False)
    cluster.add_node(num_cpus=1)  # the replacement, as an autoscaler would add
    t.join(timeout=240)
    assert not t.is_alive(), "the job did not finish"
    result["report"]["done_at_kill"] = done_at_kill
    # Marked: Ray may write to stdout after it (cluster shutdown), so the test looks for the mark.
    print("MASKPREP_REPORT " + orjson.dumps(result["report"]).decode(), flush=True)
finally:
    ray.shutdown()
    cluster.shutdown()
