"""Forward kinematics of a planar arm with two links: where is the hand for
the joint angles theta1 and theta2 (radians)?

The example projects (examples/make-project, examples/cmake-project,
examples/bare-metal) trace this script to a DAG; they run it as

    python3 kinematics.py OUT.json

and it writes the DAG to OUT.json (the convention of copapy_add_program).
"""
import sys

import copapy as cp

L1, L2 = 0.30, 0.25  # link lengths in metres

theta1 = cp.value(0.5, name="theta1")
theta2 = cp.value(-0.25, name="theta2")
x = L1 * cp.cos(theta1) + L2 * cp.cos(theta1 + theta2)
y = L1 * cp.sin(theta1) + L2 * cp.sin(theta1 + theta2)

cp.export(sys.argv[1], x=x, y=y)
