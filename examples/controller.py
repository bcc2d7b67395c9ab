"""A speed controller whose inputs have declared ranges (README: "Proving a
program safe").

    PYTHONPATH=tools/python python3 examples/controller.py [--gain-min N]

writes controller.json. The sensors give a setpoint in [0, 2] m/s and a
measured speed in [0, 2.5] m/s; the gain selector reports 1 to 8 (or, with
--gain-min 0, possibly 0: then `1000 // gain` can divide by zero, and
copapy-cc says where).
"""
import argparse

import copapy as cp

ap = argparse.ArgumentParser()
ap.add_argument("--gain-min", type=int, default=1)
args = ap.parse_args()

setpoint = cp.value(1.0, name="setpoint", range=(0.0, 2.0))
speed = cp.value(0.0, name="speed", range=(0.0, 2.5))
gain = cp.value(4, name="gain", range=(args.gain_min, 8))

error = setpoint - speed
command = cp.clamp(error * 0.8, -1.0, 1.0)  # the motor takes [-1, 1]
period_ticks = 1000 // gain                 # control period in timer ticks

cp.export("controller.json", command=command, period_ticks=period_ticks)
print("wrote controller.json")
