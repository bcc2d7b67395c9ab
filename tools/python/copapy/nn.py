"""copapy.nn: neural-network building blocks, unrolled into scalar operations.

Activations work on values, numbers and every container (elementwise);
layers take tensors (or nested sequences) in the PyTorch layouts: conv1d
(C, L) or (N, C, L) with weights (O, C, k), conv2d (C, H, W) or (N, C, H, W)
with weights (O, C, kh, kw), pools on the same layouts. Every output element
is a sum of products (see mixed_sum), so the operation count is fixed by the
shapes.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

from ._array import ArrayBase, mixed_sum
from ._value import is_scalar, value

__all__ = ["relu", "sigmoid", "softmax", "linear", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d",
           "avg_pool2d", "global_avg_pool2d"]

Pair = Union[int, Tuple[int, int]]


def relu(x: Any) -> Any:
    """max(x, 0), elementwise on containers: 0 for negative x and -inf, x
    itself for NaN (the original computes x * (x > 0), which gives NaN for
    -inf and -0.0 for negative numbers)."""
    from ._math import maximum
    if isinstance(x, ArrayBase):
        return x.map(relu)
    if isinstance(x, value):
        return maximum(x, 0.0 if x.dtype == "float" else 0)
    if not is_scalar(x):
        raise TypeError(f"relu() takes values, numbers or containers, not {type(x).__name__}")
    return maximum(x, 0.0 if isinstance(x, float) else 0)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), elementwise on containers."""
    from ._math import exp
    if isinstance(x, ArrayBase):
        return x.map(sigmoid)
    return 1 / (1 + exp(-x))


def softmax(x: Any) -> Any:
    """exp(x - max(x)) / sum(exp(x - max(x))) over a 1-d container."""
    from ._math import exp, max as cmax
    if not isinstance(x, ArrayBase):
        raise TypeError(f"softmax() takes a vector or 1-d tensor, not {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"softmax() needs a 1-d container, not shape {x.shape}")
    e = exp(x - cmax(x))
    return e / e.sum()


def _tensor(x: Any, what: str) -> Any:
    from ._tensor import tensor
    if isinstance(x, ArrayBase):
        return x if x.ndim > 1 or isinstance(x, tensor) else tensor._make(x.values, x.shape)
    return tensor(x)


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """weight @ x + bias for x of shape (in,) or (batch, in) and weight (out, in)."""
    from ._tensor import tensor
    w = _tensor(weight, "weight")
    if isinstance(x, ArrayBase) and x.ndim == 2:
        y = x @ w.T
    else:
        xt = x if isinstance(x, ArrayBase) else tensor(x)
        y = w @ xt
    if bias is not None:
        y = y + (bias if isinstance(bias, ArrayBase) else tensor(bias))
    if isinstance(x, ArrayBase) and x.ndim == 1 and type(x)._accepts(y.shape):
        return type(x)._make(y.values, y.shape)
    return y


def _pair(v: Pair, name: str) -> Tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, not {v!r}")
    return (int(v[0]), int(v[1]))


def _out_size(size: int, k: int, stride: int, pad: int, dil: int, what: str) -> int:
    n = (size + 2 * pad - dil * (k - 1) - 1) // stride + 1
    if n < 1:
        raise ValueError(f"{what}: the kernel does not fit the input (size {size}, kernel {k}, padding {pad})")
    return n


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1) -> Any:
    """2-d cross-correlation (as torch.nn.functional.conv2d): x (C, H, W) or
    (N, C, H, W), weight (O, C, kh, kw), optional bias (O,); zero padding."""
    from ._tensor import tensor
    xt, wt = _tensor(x, "x"), _tensor(weight, "weight")
    batched = xt.ndim == 4
    if xt.ndim not in (3, 4) or wt.ndim != 4:
        raise ValueError(f"conv2d() takes x (C, H, W) or (N, C, H, W) and weight (O, C, kh, kw), "
                         f"not {xt.shape} and {wt.shape}")
    xs = xt.shape if batched else (1,) + xt.shape
    nb, c, h, w = xs
    o, cw, kh, kw = wt.shape
    if cw != c:
        raise ValueError(f"conv2d(): x has {c} channels but weight expects {cw}")
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    oh = _out_size(h, kh, sh, ph, dh, "conv2d")
    ow = _out_size(w, kw, sw, pw, dw, "conv2d")
    xv, wv = xt.values, wt.values
    bv = None if bias is None else _tensor(bias, "bias").values
    out: List[Any] = []
    for b in range(nb):
        for oc in range(o):
            for i in range(oh):
                for j in range(ow):
                    terms = []
                    for ic in range(c):
                        for u in range(kh):
                            yy = i * sh - ph + u * dh
                            if not 0 <= yy < h:
                                continue
                            for v in range(kw):
                                xx = j * sw - pw + v * dw
                                if 0 <= xx < w:
                                    terms.append(xv[((b * c + ic) * h + yy) * w + xx] *
                                                 wv[((oc * c + ic) * kh + u) * kw + v])
                    s = mixed_sum(terms)
                    out.append(s if bv is None else s + bv[oc])
    shape = (nb, o, oh, ow) if batched else (o, oh, ow)
    return tensor._make_promoted(out, shape)


def conv1d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0, dilation: int = 1) -> Any:
    """1-d cross-correlation: x (C, L) or (N, C, L), weight (O, C, k), optional bias (O,)."""
    xt, wt = _tensor(x, "x"), _tensor(weight, "weight")
    if xt.ndim not in (2, 3) or wt.ndim != 3:
        raise ValueError(f"conv1d() takes x (C, L) or (N, C, L) and weight (O, C, k), not {xt.shape} and {wt.shape}")
    x4 = xt.reshape(xt.shape[:-1] + (1, xt.shape[-1]))
    w4 = wt.reshape(wt.shape[:-1] + (1, wt.shape[-1]))
    y = conv2d(x4, w4, bias, (1, stride), (0, padding), (1, dilation))
    return y.reshape(y.shape[:-2] + (y.shape[-1],))


def _pool2d(x: Any, kernel_size: Pair, stride: Optional[Pair], padding: Pair, kind: str) -> Any:
    from ._math import maximum
    from ._tensor import tensor
    xt = _tensor(x, "x")
    if xt.ndim not in (3, 4):
        raise ValueError(f"{kind}_pool2d() takes (C, H, W) or (N, C, H, W), not {xt.shape}")
    batched = xt.ndim == 4
    nb, c, h, w = xt.shape if batched else (1,) + xt.shape
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride") if stride is not None else (kh, kw)
    ph, pw = _pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{kind}_pool2d(): padding must be at most half the kernel size")
    oh = _out_size(h, kh, sh, ph, 1, f"{kind}_pool2d")
    ow = _out_size(w, kw, sw, pw, 1, f"{kind}_pool2d")
    xv = xt.values
    out: List[Any] = []
    for b in range(nb):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = [xv[((b * c + ch) * h + yy) * w + xx]
                              for yy in range(i * sh - ph, i * sh - ph + kh) if 0 <= yy < h
                              for xx in range(j * sw - pw, j * sw - pw + kw) if 0 <= xx < w]
                    if kind == "max":
                        m = window[0]
                        for e in window[1:]:
                            m = maximum(m, e)
                        out.append(m)
                    else:  # padded elements count as zeros
                        out.append(mixed_sum(window) / (kh * kw))
    return tensor._make_promoted(out, (nb, c, oh, ow) if batched else (c, oh, ow))


def max_pool2d(x: Any, kernel_size: Pair, stride: Optional[Pair] = None, padding: Pair = 0) -> Any:
    """The maximum of each kernel window (padding ignored)."""
    return _pool2d(x, kernel_size, stride, padding, "max")


def avg_pool2d(x: Any, kernel_size: Pair, stride: Optional[Pair] = None, padding: Pair = 0) -> Any:
    """The mean of each kernel window (padded elements count as zeros)."""
    return _pool2d(x, kernel_size, stride, padding, "avg")


def _pool1d(x: Any, kernel_size: int, stride: Optional[int], padding: int, kind: str) -> Any:
    xt = _tensor(x, "x")
    if xt.ndim not in (2, 3):
        raise ValueError(f"{kind}_pool1d() takes (C, L) or (N, C, L), not {xt.shape}")
    x4 = xt.reshape(xt.shape[:-1] + (1, xt.shape[-1]))
    y = _pool2d(x4, (1, kernel_size), (1, stride if stride is not None else kernel_size), (0, padding), kind)
    return y.reshape(y.shape[:-2] + (y.shape[-1],))


def max_pool1d(x: Any, kernel_size: int, stride: Optional[int] = None, padding: int = 0) -> Any:
    """1-d max pooling on (C, L) or (N, C, L)."""
    return _pool1d(x, kernel_size, stride, padding, "max")


def avg_pool1d(x: Any, kernel_size: int, stride: Optional[int] = None, padding: int = 0) -> Any:
    """1-d average pooling on (C, L) or (N, C, L)."""
    return _pool1d(x, kernel_size, stride, padding, "avg")


def global_avg_pool2d(x: Any) -> Any:
    """The mean over H and W: (C, H, W) -> (C,), (N, C, H, W) -> (N, C)."""
    xt = _tensor(x, "x")
    if xt.ndim not in (3, 4):
        raise ValueError(f"global_avg_pool2d() takes (C, H, W) or (N, C, H, W), not {xt.shape}")
    return xt.mean(axis=(-2, -1))
