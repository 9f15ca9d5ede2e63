"""The batch on Dask distributed (the ``distributed`` extra): a LocalCluster of two
worker processes gives the same results as one process."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fenn_dma.host import open_device
from fenn_dma.host.devices import DeviceError

sys.path.insert(0, str(Path(__file__).parent))
import device_nets as nets  # noqa: E402

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed: "
                                                        "pip install 'fenn-dma[distributed]'")


def test_dask_batch_equals_one_process():
    program = nets.compiled("recurrent", "stochastic")
    x = nets.spikes(program, 6, seed=2)
    dev = open_device("iss").load(program)
    here = dev.run_batch(x)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        spread = dev.run_batch(x, backend="dask", client=client, workers=2)
        assert len(client.scheduler_info()["workers"]) == 2
    for k in here.records:
        np.testing.assert_array_equal(spread.records[k], here.records[k])
    np.testing.assert_array_equal(spread.readouts["output"], here.readouts["output"])
    np.testing.assert_array_equal(spread.cycles, here.cycles)
    with pytest.raises(DeviceError, match="backend='dask' needs a distributed.Client"):
        dev.run_batch(x, backend="dask")
