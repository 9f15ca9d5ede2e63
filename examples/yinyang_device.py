"""Train a Yin-Yang classifier, compile it, and run it on the ISS and the RTL (the demo from Python)."""
import numpy as np

from fenn_dma.compiler.compile_cli import build_program
from fenn_dma.host import deploy, evaluate, open_device
from fenn_dma.host.datasets import load_dataset
from fenn_dma.host.train import TrainConfig, train

data = load_dataset("yinyang", n_steps=40)
result = train(TrainConfig(net={"hidden": [{"size": 64}]}, epochs=6, fine_tune_epochs=0, lr=5e-3,
                           progress=False, plots=False), data)

# quantise (formats from value ranges on 512 training samples) and compile, as `fenn-dma compile` does
dep = deploy.deployment(result.model.to_trained(data.n_steps), calibrate="yinyang:train:512")
program, qnet, saturation = build_program(dep)
program.save("yinyang.fenn")

x, y = data.splits["test"].spikes.numpy() > 0, data.splits["test"].labels.numpy()
iss = evaluate(program, x, y, "iss")                           # the whole test set on the ISS
print(f"float {100 * result.summary['test_acc_float']:.1f} % -> deployed {100 * iss.accuracy:.1f} %, "
      f"{iss.result.cycles.mean():.0f} cycles = {iss.result.microseconds.mean():.1f} us per sample")

with open_device("rtl", "kv260") as rtl:                       # the Verilated SoC (built on first use)
    rtl.load(program)
    got = rtl.run_batch({"input": x[:4]})
same = all(np.array_equal(got.records[k], iss.result.records[k][:4]) for k in got.records) \
    and np.array_equal(got.readouts["readout"], iss.result.readouts["readout"][:4]) \
    and np.array_equal(got.cycles, iss.result.cycles[:4])
print("RTL == ISS bit for bit and cycle for cycle:", same, got.cycles)
