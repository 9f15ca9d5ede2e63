"""Fixtures shared by more than one test folder."""
import pytest


@pytest.fixture(scope="module")
def rtl():
    """The ``rtl`` device of the kv260 profile (the Verilated SoC), one per test module;
    skipped with the reason where the Verilator toolchain is missing."""
    from fenn_dma.host import open_device
    from fenn_dma.verify.rtl_native import toolchain_missing
    reason = toolchain_missing()
    if reason:
        pytest.skip(f"the rtl device needs the Verilator toolchain: {reason}")
    with open_device("rtl", "kv260") as dev:
        yield dev
