"""A PEP 517 build backend for the copapy tracer, standard library only.

It writes a pure-Python wheel (copapy/*.py, copapy/py.typed and the
.dist-info metadata) and a source distribution. No setuptools: pip's isolated
build environment then needs nothing from an index, so `pip install
./tools/python` works offline.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

_ROOT = Path(__file__).resolve().parent
_PACKAGE = "copapy"
_NAME = "copapy"


def _version() -> str:
    text = (_ROOT / _PACKAGE / "_version.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__ = "([0-9][0-9A-Za-z.+-]*)"', text, re.M)
    if not m:
        raise RuntimeError("copapy/_version.py does not define __version__")
    return m.group(1)


def _metadata() -> str:
    readme = (_ROOT / "README.md").read_text(encoding="utf-8")
    return (f"Metadata-Version: 2.1\nName: {_NAME}\nVersion: {_version()}\n"
            "Summary: Trace Python computations into a DAG for the copapy-cc copy-and-patch compiler\n"
            "License: MIT\nRequires-Python: >=3.9\nClassifier: Typing :: Typed\n"
            "Description-Content-Type: text/markdown\n\n" + readme)


def _package_files() -> List[Path]:
    files = sorted(p for p in (_ROOT / _PACKAGE).iterdir()
                   if p.is_file() and (p.suffix == ".py" or p.name == "py.typed"))
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory: str, files: List[Tuple[str, bytes]]) -> str:
    version = _version()
    dist_info = f"{_NAME}-{version}.dist-info"
    wheel_name = f"{_NAME}-{version}-py3-none-any.whl"
    entries = list(files)
    entries.append((f"{dist_info}/METADATA", _metadata().encode("utf-8")))
    entries.append((f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: copapy _copapy_build\n"
                                         b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    entries.append((f"{dist_info}/top_level.txt", f"{_PACKAGE}\n".encode()))
    record = [_record_line(n, d) for n, d in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    path = os.path.join(wheel_directory, wheel_name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return wheel_name


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    files = [(f"{_PACKAGE}/{p.name}", p.read_bytes()) for p in _package_files()]
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    # A .pth file that puts this directory on sys.path: edits take effect at once.
    return _write_wheel(wheel_directory, [(f"__editable__.{_NAME}.pth", f"{_ROOT}\n".encode())])


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    base = f"{_NAME}-{_version()}"
    name = f"{base}.tar.gz"
    members = [Path("pyproject.toml"), Path("README.md"), Path("_copapy_build.py")]
    members += [p.relative_to(_ROOT) for p in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for rel in members:
            data = (_ROOT / rel).read_bytes()
            info = tarfile.TarInfo(f"{base}/{rel.as_posix()}")
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
        pkg_info = _metadata().encode("utf-8")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        info.mode = 0o644
        tf.addfile(info, io.BytesIO(pkg_info))
    return name
