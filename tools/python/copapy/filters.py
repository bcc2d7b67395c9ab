"""copapy.filters: statistics and FIR filtering of sampled signals.

Everything is unrolled into ordinary operations while tracing: median and
argsort by a sorting network of comparisons and selects (see _sorting.py),
convolution as sums of products, and the FIR designs (firwin) computed in
Python double and used as constants.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Type, Union

from ._array import ArrayBase, mixed_sum
from ._sorting import argsort, sort

__all__ = ["mean", "median", "argsort", "sort", "convolve", "firwin", "lowpass", "highpass", "bandpass",
           "gaussian_filter"]


def _container(v: Any, func: str) -> ArrayBase[Any]:
    if isinstance(v, ArrayBase):
        return v
    if isinstance(v, (list, tuple)):
        from ._tensor import tensor
        from ._vector import vector
        t = tensor(v)  # nested rows are 2-d data, a flat list a signal
        return vector._make(t.values, t.shape) if t.ndim == 1 else t
    raise TypeError(f"filters.{func}() takes a vector, tensor or sequence, not {type(v).__name__}")


def mean(v: Any) -> Any:
    """The arithmetic mean: v.sum() / len(v)."""
    c = _container(v, "mean")
    if not c.values:
        raise ValueError("filters.mean() of an empty container")
    return c.sum() / len(c.values)


def median(v: Any) -> Any:
    """The median as a float: the middle element of the sorted values, or the
    mean of the two middle ones for an even count."""
    c = _container(v, "median")
    n = len(c.values)
    if n == 0:
        raise ValueError("filters.median() of an empty container")
    if c._is_constant():
        data = sorted(c.values)
        return float(data[n // 2]) if n % 2 else (data[n // 2 - 1] + data[n // 2]) / 2
    from ._math import cast
    s = sort(c if c.ndim == 1 else c.flatten()).values  # type: ignore[attr-defined]
    if n % 2:
        return cast(s[n // 2], float)
    return (s[n // 2 - 1] + s[n // 2]) * 0.5


def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """The discrete convolution of two 1-d signals, as numpy.convolve: mode
    "full" (N+M-1 samples), "same" (max(N, M), centred) or "valid"
    (max(N, M) - min(N, M) + 1). Each output sample is the sum of products
    (see mixed_sum); the result has the container kind of `a`."""
    from ._vector import vector
    ca = _container(a, "convolve")
    cv = _container(v, "convolve")
    if ca.ndim != 1 or cv.ndim != 1:
        raise ValueError("filters.convolve() takes 1-d signals")
    x, k = list(ca.values), list(cv.values)
    if not x or not k:
        raise ValueError("filters.convolve() of an empty signal")
    if len(k) > len(x):
        x, k = k, x
    n, m = len(x), len(k)
    full = [mixed_sum(x[i] * k[j - i] for i in range(max(0, j - m + 1), min(n, j + 1)))
            for j in range(n + m - 1)]
    if mode == "full":
        out = full
    elif mode == "same":
        start = (m - 1) // 2
        out = full[start:start + n]
    elif mode == "valid":
        out = full[m - 1:n]
    else:
        raise ValueError(f"filters.convolve(): mode must be 'full', 'same' or 'valid', not {mode!r}")
    cls: Type[ArrayBase[Any]] = type(ca) if type(ca)._accepts((len(out),)) else vector
    return cls._make_promoted(out, (len(out),))


_WINDOWS = {"rectangular": (1.0,), "boxcar": (1.0,), "hann": (0.5, 0.5), "hamming": (0.54, 0.46),
            "blackman": (0.42, 0.5, 0.08)}
_TRANSITION = {"rectangular": 0.9, "boxcar": 0.9, "hann": 3.1, "hamming": 3.3, "blackman": 5.5}


def _sinc(x: float) -> float:
    return 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)


def firwin(numtaps: int, cutoff: Union[float, Sequence[float]], pass_zero: Union[bool, str] = "lowpass",
           window: str = "hamming", fs: float = 2.0) -> List[float]:
    """FIR filter taps by the window method, as scipy.signal.firwin: `cutoff`
    in the units of `fs` (default: Nyquist = 1), pass_zero "lowpass",
    "highpass", "bandpass" or "bandstop" (or True/False), windows
    "rectangular", "hann", "hamming", "blackman". Python floats."""
    if not isinstance(numtaps, int) or numtaps < 1:
        raise ValueError(f"numtaps must be a positive int, not {numtaps!r}")
    if window not in _WINDOWS:
        raise ValueError(f"unknown window {window!r}; known: {', '.join(_WINDOWS)}")
    cutoffs = [float(cutoff)] if isinstance(cutoff, (int, float)) else [float(c) for c in cutoff]
    nyq = fs / 2.0
    if not cutoffs or any(not 0 < c < nyq for c in cutoffs) or any(b <= a for a, b in zip(cutoffs, cutoffs[1:])):
        raise ValueError(f"cutoffs must be increasing and inside (0, fs/2 = {nyq}), got {cutoffs}")
    kind = pass_zero if isinstance(pass_zero, str) else ("lowpass" if pass_zero else "highpass")
    if kind not in ("lowpass", "highpass", "bandpass", "bandstop"):
        raise ValueError(f"pass_zero must be 'lowpass', 'highpass', 'bandpass' or 'bandstop', not {pass_zero!r}")
    if kind in ("lowpass", "highpass") and len(cutoffs) != 1:
        raise ValueError(f"a {kind} filter takes one cutoff, not {len(cutoffs)}")
    if kind in ("bandpass", "bandstop") and len(cutoffs) != 2:
        raise ValueError(f"a {kind} filter takes two cutoffs, not {len(cutoffs)}")
    zero_passes = kind in ("lowpass", "bandstop")
    if not zero_passes and numtaps % 2 == 0:
        raise ValueError("a filter that stops 0 Hz with a passband at Nyquist needs an odd numtaps")
    edges = [c / nyq for c in cutoffs]
    bands = ([0.0] if zero_passes else []) + edges + ([] if (len(edges) + zero_passes) % 2 == 0 else [1.0])
    centre = 0.5 * (numtaps - 1)
    coeffs = _WINDOWS[window]
    taps = []
    for i in range(numtaps):
        t = i - centre
        h = 0.0
        for left, right in zip(bands[0::2], bands[1::2]):
            h += right * _sinc(right * t) - left * _sinc(left * t)
        if numtaps == 1:
            w = 1.0
        else:
            w = sum((-1) ** k * a * math.cos(2 * math.pi * k * i / (numtaps - 1)) for k, a in enumerate(coeffs))
        taps.append(h * w)
    # Unit gain at the centre of the first passband.
    left, right = bands[0], bands[1]
    f0 = 0.0 if left == 0 else (1.0 if right == 1 else 0.5 * (left + right))
    gain = sum(h * math.cos(math.pi * (i - centre) * f0) for i, h in enumerate(taps))
    return [h / gain for h in taps]


def _estimate_numtaps(cutoff: Union[float, Sequence[float]], window: str, fs: float, width: Optional[float]) -> int:
    cutoffs = [float(cutoff)] if isinstance(cutoff, (int, float)) else [float(c) for c in cutoff]
    if width is None:
        # Half the smallest distance between the edges: 0, the cutoffs and fs/2.
        edges = [0.0] + sorted(cutoffs) + [fs / 2]
        width = min(b - a for a, b in zip(edges, edges[1:])) / 2
    return math.ceil(_TRANSITION[window] * fs / width - 1e-9) | 1


def _fir(a: Any, cutoff: Any, kind: str, numtaps: Optional[int], window: str, fs: float,
         width: Optional[float]) -> Any:
    if window not in _TRANSITION:
        raise ValueError(f"unknown window {window!r}; known: {', '.join(_WINDOWS)}")
    taps = numtaps if numtaps is not None else _estimate_numtaps(cutoff, window, fs, width)
    n = len(_container(a, kind).values)
    if taps > n:
        raise ValueError(f"{kind}: {taps} taps are more than the {n} samples")
    return convolve(a, firwin(taps, cutoff, kind, window, fs), "same")


def lowpass(a: Any, cutoff: float, numtaps: Optional[int] = None, window: str = "hamming", fs: float = 2.0,
            width: Optional[float] = None) -> Any:
    """`a` filtered by a windowed-sinc low-pass FIR (firwin), same length ("same" convolution)."""
    return _fir(a, cutoff, "lowpass", numtaps, window, fs, width)


def highpass(a: Any, cutoff: float, numtaps: Optional[int] = None, window: str = "hamming", fs: float = 2.0,
             width: Optional[float] = None) -> Any:
    """`a` filtered by a high-pass FIR (firwin), same length."""
    return _fir(a, cutoff, "highpass", numtaps, window, fs, width)


def bandpass(a: Any, band: Tuple[float, float], numtaps: Optional[int] = None, window: str = "hamming",
             fs: float = 2.0, width: Optional[float] = None) -> Any:
    """`a` filtered by a band-pass FIR (firwin) for band = (low, high), same length."""
    return _fir(a, band, "bandpass", numtaps, window, fs, width)


def gaussian_filter(a: Any, sigma: Union[float, Sequence[float]], truncate: float = 4.0) -> Any:
    """`a` (1-d, 2-d or 3-d) smoothed by a separable Gaussian kernel with zero
    padding, as scipy.ndimage.gaussian_filter(mode="constant"): per axis the
    kernel exp(-0.5 (i / sigma)^2) for |i| <= int(truncate * sigma + 0.5),
    normalized to sum 1; a sigma of 0 leaves that axis alone."""
    c = _container(a, "gaussian_filter")
    if c.ndim not in (1, 2, 3):
        raise ValueError(f"gaussian_filter() takes 1-d to 3-d data, not shape {c.shape}")
    sigmas = [float(sigma)] * c.ndim if isinstance(sigma, (int, float)) else [float(s) for s in sigma]
    if len(sigmas) != c.ndim or any(s < 0 for s in sigmas):
        raise ValueError(f"gaussian_filter(): need {c.ndim} non-negative sigma(s), got {sigma!r}")
    values = list(c.values)
    shape = c.shape
    for axis, s in enumerate(sigmas):
        if s == 0:
            continue
        r = int(truncate * s + 0.5)
        kernel = [math.exp(-0.5 * (i / s) ** 2) for i in range(-r, r + 1)]
        total = sum(kernel)
        kernel = [k / total for k in kernel]
        stride = 1
        for d in shape[axis + 1:]:
            stride *= d
        n = shape[axis]
        out = list(values)
        for base in range(len(values)):
            if (base // stride) % n:
                continue  # start of a line along `axis` only
            line = [values[base + i * stride] for i in range(n)]
            for i in range(n):
                out[base + i * stride] = mixed_sum(kernel[j + r] * line[i + j] for j in range(-r, r + 1)
                                                   if 0 <= i + j < n)
        values = out
    return type(c)._make_promoted(values, shape)
