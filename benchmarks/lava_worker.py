"""Runs a netx HDF5 network in Lava (Loihi2SimCfg fixed_pt) on a batch of samples in
one run, the way a Lava user runs a test set: samples back to back, states reset
every T steps by netx (``reset_interval``). Run by benchmarks/lava_netx.py with a
Python that has lava-dl (Python < 3.11); it imports nothing of fenn_dma.

    python lava_worker.py NET.h5 SAMPLES.npz OUT.npy

SAMPLES.npz: ``spikes`` (B, T, n_in) 0/1. OUT.npy: the last layer's voltage (B*T, n).
"""
import sys

import numpy as np
from lava.lib.dl import netx
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.source import RingBuffer
from lava.proc.monitor.process import Monitor


def main(net_path: str, samples: str, out: str) -> None:
    x = np.load(samples)["spikes"].astype(np.int32)
    B, T, n = x.shape
    net = netx.hdf5.Network(net_config=net_path, reset_interval=T)
    src = RingBuffer(data=x.reshape(B * T, n).T)
    src.s_out.connect(net.inp)
    monitor = Monitor()
    monitor.probe(net.layers[-1].neuron.v, B * T)
    net.run(condition=RunSteps(num_steps=B * T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    data = monitor.get_data()
    net.stop()
    (process,) = data.values()
    (v,) = process.values()
    np.save(out, np.asarray(v, dtype=np.int64))


if __name__ == "__main__":
    main(*sys.argv[1:4])
