"""Saturation: how many values of a run sit at the int16 rails (-32768, 32767).

Every add and multiply of the neuron update saturates, so a value that outgrows
its fixed-point format sticks at a rail and the network computes something else
than the model (a ``v_sum`` readout pinned at 32767 no longer ranks the
classes). Counted per population and variable:

- ``V`` and the synaptic currents ``I``, ``I1``, ... (held in V's format) and
  the model's formatted state (ALIF's ``A``): every value of every step;
- the readout: its value at the end of each sample.

Two sources, one report (:class:`SaturationReport`):

- :func:`count_reference`: a run of the bit-exact fixed-point reference
  (``compiler.reference``; what the ISS and the RTL compute) on inputs, every
  state variable (what ``fenn-dma compile --calibrate`` checks);
- :func:`count_outputs`: what a run on any device returned (readouts, and the
  recorded ``V`` of populations that record it), given the ``.fenn`` program's
  formats (what the host runtime checks after a run).

Each saturated variable gets a warning naming the population, the variable,
how often, and the format to widen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ModelError
from .fixedpoint import FixedFormat, FixedPointError
from .quantise import QNetwork, suffix

RAILS = (-32768, 32767)


@dataclass
class Count:
    """Values of one population's variable at a rail."""

    population: str
    var: str            # V, I, I1, ..., A, readout
    fmt: str            # its format as the program lists it ("s2.13"; a v_sum readout: "sum of V>>6")
    v_fmt: str          # the population's V format
    kind: str           # the population's readout kind (v_sum, v_max, spike_count) for var "readout", else ""
    widen: str = "V"    # the declared format that holds it (formats[widen]): V for V and the currents
    hits: int = 0       # values at a rail
    values: int = 0     # values counted
    neurons: int = 0    # neurons with at least one value at a rail
    size: int = 0
    steps: int = 0      # steps per sample of the run (0: unknown)

    @property
    def fraction(self) -> float:
        return self.hits / self.values if self.values else 0.0

    def advice(self) -> str:
        """The format to widen (or what else to change)."""
        if self.var == "readout":
            return _readout_advice(self)
        key = self.widen
        owner, fmt = f"{key}'s", self.v_fmt if key == "V" else self.fmt
        wider = _wider(fmt)
        if wider is None:
            return f"{owner} format {fmt} is the widest 16-bit one; scale the weights and threshold down"
        return (f"widen {owner} format {fmt} (to {wider} or wider: formats[{key!r}] = {wider!r} on population "
                f"{self.population!r}, or calibrate on inputs like these: --calibrate)")

    def message(self) -> str:
        what = "readouts" if self.var == "readout" else "values"
        return (f"population {self.population!r}: {self.var} ({self.fmt}) at the int16 rails in {self.hits} of "
                f"{self.values} {what} ({100 * self.fraction:.1f} %; {self.neurons} of {self.size} neurons); "
                + self.advice())


def _wider(fmt: str) -> str | None:
    try:
        f = FixedFormat.parse(fmt)
    except FixedPointError:
        return None
    return str(FixedFormat(f.int_bits + 1, f.frac_bits - 1)) if f.frac_bits > 0 else None


def _readout_advice(c: Count) -> str:
    if c.kind == "spike_count":
        return "the count holds at most 32767 spikes; run fewer steps per sample"
    if c.kind == "v_max":
        wider = _wider(c.v_fmt)
        return (f"the readout is the largest V; widen V's format {c.v_fmt} (to {wider} or wider: formats['V'])"
                if wider else f"V's format {c.v_fmt} is the widest 16-bit one; scale the weights down")
    shift = _readout_shift(c.fmt)
    if shift is None:
        return "size the readout for more steps (fenn-dma compile --steps)"
    if shift >= 15:
        return "the readout already sums V>>15; run fewer steps per sample or widen V's format"
    steps = max(c.steps, 1 << (shift + 1))
    return (f"the readout sums V>>{shift} (sized for {1 << shift} steps); size it for more steps "
            f"(fenn-dma compile --steps {steps}, or formats['readout'] with fewer fraction bits)")


def _readout_shift(fmt: str) -> int | None:
    head = "sum of V>>"
    if fmt.startswith(head) and fmt[len(head):].isdigit():
        return int(fmt[len(head):])
    return 0 if fmt == "sum of V" else None


@dataclass
class SaturationReport:
    """Counts per population and variable of one run (``samples`` samples of ``steps`` steps)."""

    counts: list[Count] = field(default_factory=list)
    samples: int = 0
    steps: int = 0
    source: str = "reference"      # reference | device outputs
    readouts: dict[str, np.ndarray] = field(default_factory=dict)   # the reference's (B, size) readouts

    def saturated(self) -> list[Count]:
        """The counts with at least one value at a rail."""
        return [c for c in self.counts if c.hits]

    def warnings(self) -> list[str]:
        """One line per saturated variable (empty when nothing saturated)."""
        return [f"saturation: {c.message()}" for c in self.saturated()]

    def to_dict(self) -> dict:
        """{"population.var": {"hits", "values", "neurons"}} of the saturated variables,
        with the run's size (for a .fenn's metadata or a results file)."""
        return {"samples": self.samples, "steps": self.steps, "source": self.source,
                "saturated": {f"{c.population}.{c.var}": {"hits": c.hits, "values": c.values, "neurons": c.neurons}
                              for c in self.saturated()}}


def _at_rail(a: np.ndarray) -> np.ndarray:
    return (a == RAILS[0]) | (a == RAILS[1])


def _format_of(formats: dict, pop: str, var: str) -> str:
    return str(formats.get(f"{pop}.{var}", "?"))


def count_reference(qnet: QNetwork, inputs: dict[str, np.ndarray], batch: int = 256) -> SaturationReport:
    """Run the fixed-point reference of ``qnet`` on ``inputs`` (``{source: (B, T, size)}``
    spikes) and count, per population, the values at the int16 rails."""
    from .reference import ReferenceSimulator
    from .validate import spike_array

    sources = [p for p in qnet.populations.values() if p.is_input]
    arrays = {}
    for p in sources:
        if p.name not in inputs:
            raise ModelError(f"saturation check: no input spikes for spike source {p.name!r}")
        arrays[p.name] = spike_array(p.name, inputs[p.name], p.size, batch=True)
    B = min((a.shape[0] for a in arrays.values()), default=0)
    T = min((a.shape[1] for a in arrays.values()), default=0)
    formats = qnet.formats()
    counts: dict[tuple[str, str], Count] = {}
    hit_neurons: dict[tuple[str, str], np.ndarray] = {}
    neurons = [p for p in qnet.populations.values() if not p.is_input]
    for p in neurons:
        v_fmt = str(p.v_fmt)
        state = (["V"] + [f"I{suffix(k)}" for k in p.exp_groups]
                 + [v for v in p.model.formats(p) if v in p.state_vars()])
        currents = [f"I{suffix(k)}" for k in p.exp_groups]          # held in V's format
        for var in state:
            widen = "V" if var == "V" or var in currents else var
            fmt = v_fmt if widen == "V" else _format_of(formats, p.name, var)
            counts[(p.name, var)] = Count(p.name, var, fmt, v_fmt, "", widen, size=p.size)
            hit_neurons[(p.name, var)] = np.zeros(p.size, bool)
        if p.readout:
            counts[(p.name, "readout")] = Count(p.name, "readout", _format_of(formats, p.name, "readout")
                                                if p.readout == "v_sum" else p.readout, v_fmt, p.readout,
                                                "readout", size=p.size)
            hit_neurons[(p.name, "readout")] = np.zeros(p.size, bool)

    def tally(key, values: np.ndarray) -> None:
        rail = _at_rail(values)
        c = counts[key]
        c.hits += int(rail.sum())
        c.values += int(rail.size)
        hit_neurons[key] |= rail.any(0)

    def observe(pop, st) -> None:
        if (pop.name, "V") not in counts:
            return
        n = pop.size
        tally((pop.name, "V"), st.V[:, :n])
        for k in pop.exp_groups:
            tally((pop.name, f"I{suffix(k)}"), st.I[k][:, :n])
        for var in st.vars:
            if (pop.name, var) in counts:
                tally((pop.name, var), st.vars[var][:, :n])

    parts: dict[str, list] = {}
    for i in range(0, max(B, 1), batch):
        chunk = {k: a[i:i + batch] for k, a in arrays.items()}
        n = len(next(iter(chunk.values()))) if chunk else 1
        res = ReferenceSimulator(qnet, batch=n, observer=observe).run(chunk, T)
        for name, r in res.readouts.items():
            tally((name, "readout"), r)
            parts.setdefault(name, []).append(r)
    for key, c in counts.items():
        c.neurons, c.steps = int(hit_neurons[key].sum()), T
    return SaturationReport(list(counts.values()), B, T, "reference",
                            {k: np.concatenate(v) for k, v in parts.items()})


def count_outputs(program, readouts: dict[str, np.ndarray], records: dict[str, np.ndarray] | None = None,
                  steps: int = 0) -> SaturationReport:
    """Count the values at the int16 rails in what a run on a device returned.

    ``program``: the ``.fenn`` program (``compiler.fennfile.FennProgram``; its
    ``formats`` and I/O map); ``readouts``: ``{population: (size,) or (batch, size)}``
    int16 (``RunOutput.readouts``); ``records``: ``{"population.v": (steps, size)
    or (batch, steps, size)}`` (``RunOutput.records``; spike records are skipped).
    A name the program does not read out or record is a :class:`ModelError`."""
    formats, io = program.formats, program.io
    counts = []
    samples = 0
    for name, values in readouts.items():
        spec = io["readouts"].get(name)
        if spec is None:
            raise ModelError(f"saturation check: {name!r} is not a readout of program {program.name!r}; "
                             f"readouts: {', '.join(io['readouts']) or 'none'}")
        a = np.asarray(values)
        a2 = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
        samples = max(samples, a2.shape[0])
        kind = str(spec["kind"])
        rail = _at_rail(a2)
        counts.append(Count(name, "readout", _format_of(formats, name, "readout") if kind == "v_sum" else kind,
                            _format_of(formats, name, "V"), kind, "readout", int(rail.sum()), int(rail.size),
                            int(rail.any(0).sum()), a2.shape[1]))
    for key, values in (records or {}).items():
        spec = io["records"].get(key)
        if spec is None:
            raise ModelError(f"saturation check: {key!r} is not a record of program {program.name!r}; "
                             f"records: {', '.join(io['records']) or 'none'}")
        pop, _, var = key.rpartition(".")
        if var != "v":
            continue
        a = np.asarray(values)
        rail = _at_rail(a.reshape(-1, a.shape[-1]))
        v_fmt = _format_of(formats, pop, "V")
        counts.append(Count(pop, "V", v_fmt, v_fmt, "", "V", int(rail.sum()), int(rail.size),
                            int(rail.any(0).sum()), a.shape[-1]))
        steps = steps or (a.shape[-2] if a.ndim >= 2 else 0)
    for c in counts:
        c.steps = steps
    return SaturationReport(counts, samples, steps, "device outputs")
