"""Declares the fast ISS's C extension; everything else is in pyproject.toml."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "fenn_dma.sim._fastiss",
            sources=["sim/_fastiss.c"],
            extra_compile_args=["-O3", "-std=gnu11", "-Wall", "-Wno-unused-label"],
            optional=True,  # without a C compiler the reference engine still works
        )
    ],
)
