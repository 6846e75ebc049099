"""Build script: two extension modules (see README.md, "Why CFFI, and a
small C extension"):

* tofu._tofu, the CFFI module (build_ffi.py), which compiles the C library's
  own sources (../src) into itself;
* tofu._speed, the hand-written CPython extension for the per-message calls
  (csrc/speed.c), which calls that one copy of the library through a table
  of function pointers (csrc/tofu_py_api.h) and so compiles no libtofu
  source of its own.

Everything else is in pyproject.toml."""
import os
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("TOFU_SOURCE_DIR", os.path.dirname(HERE))

speed = Extension(
    "tofu._speed",
    sources=["csrc/speed.c"],
    depends=["csrc/tofu_py_api.h"],
    include_dirs=[os.path.join(ROOT, "include"), os.path.join(HERE, "csrc")],
    define_macros=[("TOFU_STATIC", None)] if sys.platform == "win32" else [],
    extra_compile_args=[] if sys.platform == "win32" else ["-O2", "-std=gnu11"],
)

setup(cffi_modules=["build_ffi.py:ffibuilder"], ext_modules=[speed])
