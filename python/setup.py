"""Build script: the CFFI extension module tofu._tofu, which compiles the C
library's own sources (../src) into the module (see README.md, "Why CFFI").
Everything else is in pyproject.toml."""
from setuptools import setup

setup(cffi_modules=["build_ffi.py:ffibuilder"])
