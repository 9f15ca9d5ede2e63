"""One device API over the ISS, the simulated RTL and the boards (docs/runtime.md):
``open_device``, ``Device``, batches (``BatchResult``), ``evaluate`` and the errors."""
from fenn_dma.compiler.abi import RunOutput

from .device import DEFAULT_MAX_CYCLES, Device, open_device
from .errors import (DeviceError, DeviceUnavailable, DmaError, LimitExceeded, MachineMismatch, ModelError,
                     RunError)
from .evaluate import Evaluation, evaluate, evaluate_dataset
from .registry import devices as list_devices
from .results import BatchResult

__all__ = ["BatchResult", "DEFAULT_MAX_CYCLES", "Device", "DeviceError", "DeviceUnavailable", "DmaError",
           "Evaluation", "LimitExceeded", "MachineMismatch", "ModelError", "RunError", "RunOutput", "list_devices",
           "evaluate", "evaluate_dataset", "open_device"]
