"""The native harness's profile-guided build switch (verify/rtl_native.py): $FENN_NATIVE_PGO's
values, and that a PGO build is cached apart from the plain one. (The PGO build itself is run by
benchmarks/rtl_speed.py --pgo: a second compile of the model, too slow for the default run.)"""
import pytest

from fenn_dma.verify import rtl_native
from fenn_dma.verify.rtl_harness import RtlSimError


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("off", False), ("1", True),
                                             ("yes", True), ("ON", True)])
def test_pgo_default_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(rtl_native.PGO_ENV, value)
    assert rtl_native.pgo_default() is expected


def test_pgo_default_unset_is_plain(monkeypatch):
    monkeypatch.delenv(rtl_native.PGO_ENV, raising=False)
    assert rtl_native.pgo_default() is False


def test_bad_pgo_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(rtl_native.PGO_ENV, "maybe")
    with pytest.raises(RtlSimError, match="FENN_NATIVE_PGO='maybe'.*use 1"):
        rtl_native.pgo_default()


def test_pgo_builds_have_their_own_cache_key():
    plain = rtl_native._harness_digest(False, True, True)
    assert rtl_native._harness_digest(False, True, True, pgo=True) != plain
    assert rtl_native._harness_digest(False, True, True, pgo=False) == plain
