"""Spoken words synthesised offline: espeak-ng (the library and voice data that
the PyPI wheel ``espeakng-loader`` ships) driven through its C API with ctypes.

``Speech().say("sieben", voice="de+m3", rate=150, pitch=60)`` -> (int16
samples, sample rate). The API used is espeak-ng's ``speak_lib.h``:
``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, ...)``, a synth callback that
receives the samples, ``espeak_SetVoiceByName``, ``espeak_SetParameter``
(rate in words per minute, pitch 0..100), ``espeak_ng_SetRandSeed``, ``espeak_Synth``. The library keeps
one global state, so one ``Speech`` per process.
"""
from __future__ import annotations

import ctypes

import numpy as np

from fenn_dma.host.errors import DatasetError

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_RATE, ESPEAK_PITCH = 1, 3          # espeak_PARAMETER
POS_CHARACTER, CHARS_AUTO = 1, 0
RATE_RANGE, PITCH_RANGE = (80, 450), (0, 100)   # espeak-ng's limits
INSTALL = "pip install -e '.[speech]' (espeakng-loader ships libespeak-ng and its voices)"

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Speech:
    """espeak-ng, loaded once per process."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance._load()
        return cls._instance

    def _load(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise DatasetError(f"speech synthesis needs espeak-ng: {INSTALL}") from None
        try:
            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise DatasetError(f"cannot load libespeak-ng ({exc}); {INSTALL}") from None
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                                      espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise DatasetError(f"espeak-ng failed to initialise (code {self.sample_rate}); {INSTALL}")
        self._chunks: list[np.ndarray] = []

        def collect(wav, n, _events):
            if n > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
            return 0

        self._callback = _CALLBACK(collect)      # kept: the library holds only the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def say(self, text: str, voice: str, rate: int = 175, pitch: int = 50, seed: int = 0) -> tuple[np.ndarray, int]:
        """``text`` spoken by ``voice`` (e.g. "en+m1", "de+f2"): int16 samples, sample rate.
        espeak-ng's noise generator is reseeded with ``seed`` first
        (``espeak_ng_SetRandSeed``); other state of the library runs on from one
        utterance to the next (not reset by a re-initialisation either), so the
        samples depend on the arguments alone only for a process's first utterance
        (``host/synth_shd.py`` speaks each word in a fresh process)."""
        for name, value, (lo, hi) in (("rate", rate, RATE_RANGE), ("pitch", pitch, PITCH_RANGE)):
            if not lo <= int(value) <= hi:
                raise DatasetError(f"speech {name} {value} is outside espeak-ng's {lo}..{hi}")
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise DatasetError(f"espeak-ng has no voice {voice!r} (language+variant, e.g. 'en+m1', 'de+f2')")
        self.lib.espeak_SetParameter(ESPEAK_RATE, int(rate), 0)
        self.lib.espeak_SetParameter(ESPEAK_PITCH, int(pitch), 0)
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(int(seed)))
        self._chunks = []
        data = text.encode()
        code = self.lib.espeak_Synth(ctypes.c_char_p(data), len(data) + 1, 0, POS_CHARACTER, 0, CHARS_AUTO,
                                     None, None)
        if code != 0 or not self._chunks:
            raise DatasetError(f"espeak-ng could not speak {text!r} with voice {voice!r} (code {code})")
        return np.concatenate(self._chunks), self.sample_rate
