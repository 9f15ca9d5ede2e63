"""fenn_dma.host: training, deployment and the device runtime.

The device API is re-exported here (``from fenn_dma.host import open_device``);
the import is lazy so that ``fenn_dma.host.train`` and friends do not pay for it."""

_DEVICE_API = ("BatchResult", "Device", "DeviceError", "DeviceUnavailable", "DmaError", "Evaluation",
               "LimitExceeded", "MachineMismatch", "RunError", "evaluate", "list_devices", "evaluate_dataset",
               "open_device")


def __getattr__(name):
    if name in _DEVICE_API:
        from . import devices as api
        return getattr(api, name)
    raise AttributeError(f"module 'fenn_dma.host' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_DEVICE_API))
