"""A first-order low-pass filter: y <- y + alpha * (x - y), one sample per run.

    PYTHONPATH=tools/python python3 examples/lowpass.py
"""
import copapy as cp

ALPHA = 0.2


def build():
    x = cp.value(0.0, name="x")          # the new sample, written before each run
    y = cp.state(0.0, name="y")          # the filter's memory
    y.next(y + ALPHA * (x - y))
    return x, y


if __name__ == "__main__":
    x, y = build()
    tg = cp.Target()
    tg.compile(y)
    for k in range(20):
        tg.write_value(x, 1.0 if k >= 2 else 0.0)  # a step at k = 2
        tg.run()
        print(f"k={k:2d}  y={tg.read_value(y):.6f}")
