"""The version of copapy-cc and of this tracer: the one place it is defined.

CMakeLists.txt reads it from here for the compiler and the runners
(`copapy-cc --version`), and tools/python/pyproject.toml for the package.
"""
__version__ = "0.2.0"
