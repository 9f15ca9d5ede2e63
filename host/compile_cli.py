"""`fenn-dma compile MODEL -o model.fenn`: MODEL is a Python file defining
``build()`` -> Network, a ``.nir`` graph, or a trained network: a
``fenn-dma train --out RUN`` folder or its ``network.npz``.

The compiler's part (``compiler/compile_cli.py``: options, quantisation,
saturation check, writing) is shared; this module adds what needs the host:
reading trained networks (with the formats, rounding and steps the trainer
recorded, through ``host.deploy``: the model the trainer's deployed accuracy
was measured on) and calibration inputs from a built-in data set
(``--calibrate yinyang:train:512``).
"""
from __future__ import annotations

import argparse
from fenn_dma.compiler import compile_cli as core

COMMAND = "compile"
HELP = "compile a model or a trained network to a .fenn program"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    core.add_arguments(
        parser,
        model_help="model.py (defines build()), graph.nir, or a trained network: a `fenn-dma train --out` "
                   "run folder or its network.npz (compiled with the formats and rounding the trainer recorded)",
        calibrate_help="calibration inputs: a built-in data set NAME[:SPLIT[:N]] (yinyang or digits; split "
                       "default train; the first N samples, default 512, or 'all'; encoded with the trained "
                       "network's steps), or an .npz with one (batch, steps, size) spike array per spike source. "
                       "Formats the model does not declare (or the trainer did not record) are measured on "
                       "them, v_sum readouts are sized for their steps, and saturation is checked on them "
                       "(a warning per population whose values hit the int16 rails)",
        output_help="program file (default: MODEL.fenn; for a run folder or its network.npz, "
                    "network.fenn beside the network)")


def run(args: argparse.Namespace) -> int:
    from fenn_dma.host import deploy

    trained = deploy.trained_network_path(args.model)
    if trained is not None and args.output is None:          # beside the network: RUN/network.fenn
        args.output = str(trained.with_suffix(".fenn"))
    core.check_outputs(args)
    return core.compile_deployment(args, deploy.deployment(args.model, args.calibrate, args.dt, args.steps))
