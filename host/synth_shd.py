"""A SYNTHETIC stand-in for the Spiking Heidelberg Digits, made offline: the
20 spoken digits of SHD (English "zero".."nine" = labels 0..9, German
"null".."neun" = 10..19) synthesised by espeak-ng (``host/speech.py``) with
several voices, speeds and pitches, augmented in numpy (gain, leading
silence, white noise at a random SNR), and turned into spike trains by the
Heidelberg cochlea model that produced SHD (``lauscher``: basilar membrane,
hair cells, bushy cells; 700 channels). It is NOT SHD: the recordings are
synthetic speech; every file says so (``/extra/synthetic``, the ``description``
attribute) and it is named ``synthetic-shd`` everywhere.

Files: ``synthetic_shd_train.h5`` and ``synthetic_shd_test.h5`` in exactly the
real files' layout (``spikes/times`` float32 s, ``spikes/units`` uint16,
``labels`` uint8, ``extra/speaker``, ``extra/keys``, ``extra/meta_info``), so
``host/shd.py`` reads them as ``--dataset synthetic-shd`` and so would tonic.
As in SHD, train and test have different speakers (voices).

Deterministic for a seed: every sample's voice, speed, pitch and noise come
from a generator seeded with (seed, split, index), whatever ``jobs`` is.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fenn_dma.host.errors import DatasetError

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")
# the speakers: espeak-ng language + voice variant; the last two of each language speak the test set
VOICES = {"en": ("en+m1", "en+f2", "en+m3", "en-us+f4", "en+m4", "en-us+f2", "en+m6", "en+f3"),
          "de": ("de+m1", "de+f2", "de+m3", "de+f4", "de+m4", "de+f5", "de+m6", "de+f3")}
TEST_VOICES = 2
FILES = {"train": "synthetic_shd_train.h5", "test": "synthetic_shd_test.h5"}
AUDIO_RATE = 16000           # Hz: the cochlea model's input (SHD's recordings were 48 kHz, resampled)
PIPELINE = "espeak-ng+numpy-augment+lauscher-1.0.1-wave2spike/v1"   # in the cache key: change it with the pipeline
DESCRIPTION = ("SYNTHETIC spoken digits (espeak-ng voices, numpy augmentation, lauscher cochlea model) "
               "in the SHD layout; not the Heidelberg recordings")


@dataclass(frozen=True)
class Variation:
    """Ranges the per-sample variation is drawn from (uniform)."""
    rate: tuple[int, int] = (130, 220)          # words per minute
    pitch: tuple[int, int] = (30, 70)           # espeak-ng 0..100
    gain_db: tuple[float, float] = (-6.0, 6.0)
    snr_db: tuple[float, float] = (15.0, 40.0)  # white noise
    lead_ms: tuple[float, float] = (0.0, 100.0)


def speakers(split: str) -> list[tuple[int, str]]:
    """(speaker id, voice) of a split; ids count over both languages."""
    out, sid = [], 0
    for lang in ("en", "de"):
        for i, voice in enumerate(VOICES[lang]):
            if (i >= len(VOICES[lang]) - TEST_VOICES) == (split == "test"):
                out.append((sid, voice))
            sid += 1
    return out


def sample_plan(split: str, per_class: int, seed: int, variation: Variation = Variation(),
                classes: tuple[int, ...] | None = None) -> list[dict]:
    """Every sample's label, word, speaker, voice, rate, pitch, gain, SNR, lead and noise
    seed; ``classes``: only these labels (a quick subset; a sample is the same either way)."""
    plan = []
    voices = speakers(split)
    for label, word in enumerate(WORDS):
        if classes is not None and label not in classes:
            continue
        lang = "en" if label < 10 else "de"
        own = [(s, v) for s, v in voices if v.startswith(lang)]
        for k in range(per_class):
            rng = np.random.default_rng([seed, 0 if split == "train" else 1, label, k])
            speaker, voice = own[k % len(own)]
            plan.append(dict(label=label, word=word, speaker=speaker, voice=voice,
                             rate=int(rng.integers(variation.rate[0], variation.rate[1] + 1)),
                             pitch=int(rng.integers(variation.pitch[0], variation.pitch[1] + 1)),
                             gain_db=float(rng.uniform(*variation.gain_db)),
                             snr_db=float(rng.uniform(*variation.snr_db)),
                             lead_ms=float(rng.uniform(*variation.lead_ms)),
                             noise_seed=int(rng.integers(2**31))))
    return plan


def speak(item: dict) -> tuple[np.ndarray, int]:
    """espeak-ng's int16 samples and rate of one planned word (run in a fresh process: it imports
    only numpy and the ctypes binding, not scipy, which was most of a word's cost)."""
    from fenn_dma.host.speech import Speech

    return Speech().say(item["word"], item["voice"], item["rate"], item["pitch"], seed=item["noise_seed"])


def augment(pcm: np.ndarray, rate: int, item: dict) -> np.ndarray:
    """The planned gain, leading silence and noise on a spoken word, resampled to AUDIO_RATE."""
    from scipy.signal import resample_poly

    x = resample_poly(pcm.astype(np.float64) / 32768.0, AUDIO_RATE, rate)
    x *= 10 ** (item["gain_db"] / 20)
    x = np.concatenate([np.zeros(int(AUDIO_RATE * item["lead_ms"] / 1e3)), x])
    power = float(np.mean(x ** 2)) or 1e-12
    noise = np.random.default_rng(item["noise_seed"]).normal(0, np.sqrt(power / 10 ** (item["snr_db"] / 10)), x.size)
    return x + noise


def audio(item: dict) -> np.ndarray:
    """The augmented waveform (float, AUDIO_RATE) of one planned sample."""
    return augment(*speak(item), item)


def spikes(wave: np.ndarray, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(times s, units) of the cochlea model's spikes for ``wave``, sorted by time then unit:
    lauscher's ``Wave2Spike`` computed by ``host/cochlea.py`` (the same spikes, vectorised);
    the bushy cells' fibres drawn from ``RandomState(seed)``, as lauscher draws them from
    NumPy's global generator after ``np.random.seed(seed)``."""
    from fenn_dma.host.cochlea import wave_to_spikes

    times, units = wave_to_spikes(wave, AUDIO_RATE, channels, seed)
    order = np.lexsort((units, times))
    return times[order].astype(np.float32), units[order].astype(np.uint16)


def cache_dir() -> Path:
    """Where generated samples are kept (``$FENN_DMA_CACHE/synthetic-shd``, default ``~/.cache/fenn-dma``)."""
    return Path(os.environ.get("FENN_DMA_CACHE", Path.home() / ".cache" / "fenn-dma")) / "synthetic-shd"


def sample_key(item: dict, channels: int) -> str:
    """A sample's cache key: everything its spikes depend on (its plan, the channels, the pipeline)."""
    blob = json.dumps(dict(item, channels=channels, audio_rate=AUDIO_RATE, pipeline=PIPELINE), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _cached(path: Path):
    """A cached sample's (times, units), or None when absent or unreadable (then it is made again)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["times"], z["units"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _store(path: Path, times: np.ndarray, units: np.ndarray) -> None:
    from fenn_dma.boundary import write_outputs

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, times=times, units=units)
    write_outputs({path: buf.getvalue()})


def _spikes_of(args: tuple[np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray]:
    return spikes(*args)


def generate(out: str | Path, per_class: int = 30, test_per_class: int | None = None, channels: int = 700,
             seed: int = 0, jobs: int = 1, progress: bool = True,
             classes: tuple[int, ...] | None = None, cache: str | Path | None = "default") -> dict[str, Path]:
    """Write both files into folder ``out`` (all or none); returns their paths.
    ``classes``: only these labels (default all 20). ``cache``: a folder keeping every
    sample made (keyed by :func:`sample_key`, so a sample is made once whatever the set it
    is in), ``"default"`` for :func:`cache_dir`, None for none."""
    from fenn_dma.boundary import output_folder, write_outputs

    for name, value in (("per_class", per_class), ("channels", channels), ("jobs", jobs)):
        if int(value) != value or value < 1:
            raise DatasetError(f"synthetic-shd: {name} must be a positive integer, got {value!r}")
    if channels > 700:
        raise DatasetError(f"synthetic-shd: channels {channels} > 700 (SHD's cochlea channels)")
    if classes is not None:
        classes = tuple(sorted(set(int(c) for c in classes)))
        if not classes or not all(0 <= c < len(WORDS) for c in classes):
            raise DatasetError(f"synthetic-shd: classes {classes} must be labels 0..{len(WORDS) - 1}")
    folder = output_folder(out, "--out")
    test_per_class = max(1, per_class // 4) if test_per_class is None else test_per_class
    staged = {}
    for split, n in (("train", per_class), ("test", test_per_class)):
        plan = sample_plan(split, n, seed, classes=classes)
        results = _run(plan, channels, jobs, progress, split,
                       None if cache is None else cache_dir() if cache == "default" else Path(cache))
        staged[folder / FILES[split]] = _writer(plan, results, channels, seed, split)
    write_outputs(staged)
    return {split: folder / name for split, name in FILES.items()}


def _run(plan: list[dict], channels: int, jobs: int, progress: bool, split: str, cache: Path | None) -> list:
    """Speech, then the cochlea model, for the samples not in ``cache`` (then stored there).
    espeak-ng keeps state from one utterance to the next that neither its seed nor a
    re-initialisation resets, so every word is spoken by a fresh process (spawned:
    nothing inherited), which makes a sample depend on its plan alone, whatever ``jobs``
    and the order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    paths = [None if cache is None else cache / f"{sample_key(item, channels)}.npz" for item in plan]
    results = [None if p is None else _cached(p) for p in paths]
    todo = [i for i, r in enumerate(results) if r is None]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=spawn, max_tasks_per_child=1) as pool:
        spoken = list(tqdm(pool.map(speak, [plan[i] for i in todo]), total=len(todo),
                           desc=f"synthetic-shd {split}: speech", disable=not progress))
    waves = [augment(pcm, rate, plan[i]) for (pcm, rate), i in zip(spoken, todo)]
    work = [(w, channels, plan[i]["noise_seed"] + 1) for w, i in zip(waves, todo)]
    bar = dict(total=len(work), desc=f"synthetic-shd {split}: cochlea", disable=not progress)
    if jobs == 1:
        made = [_spikes_of(w) for w in tqdm(work, **bar)]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            made = list(tqdm(pool.map(_spikes_of, work), **bar))
    for i, r in zip(todo, made):
        results[i] = r
        if paths[i] is not None:
            _store(paths[i], *r)
    return results


def _writer(plan: list[dict], results: list, channels: int, seed: int, split: str):
    def write(path: Path) -> None:
        import h5py
        with h5py.File(path, "w") as f:
            f.attrs["description"] = DESCRIPTION
            f.attrs["generator"] = f"fenn_dma.host.synth_shd seed={seed} channels={channels} split={split}"
            f.attrs["channels"] = channels          # host/shd.py reads this many input channels
            t = f.create_dataset("spikes/times", (len(plan),), dtype=h5py.vlen_dtype(np.dtype("float32")))
            u = f.create_dataset("spikes/units", (len(plan),), dtype=h5py.vlen_dtype(np.dtype("uint16")))
            for i, (times, units) in enumerate(results):
                t[i], u[i] = times, units
            f.create_dataset("labels", data=np.array([p["label"] for p in plan], np.uint8))
            f.create_dataset("extra/speaker", data=np.array([p["speaker"] for p in plan], np.uint8))
            f.create_dataset("extra/keys", data=np.array([w.encode() for w in WORDS]))
            f.create_dataset("extra/synthetic", data=True)
            meta = f.create_group("extra/meta_info")
            for key in ("voice",):
                meta.create_dataset(key, data=np.array([p[key].encode() for p in plan]))
            for key in ("rate", "pitch", "gain_db", "snr_db", "lead_ms"):
                meta.create_dataset(key, data=np.array([p[key] for p in plan]))
    return write
