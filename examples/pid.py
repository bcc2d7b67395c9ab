"""A PID controller closing the loop around a first-order plant, all inside
the compiled program: one control period per run.

    PYTHONPATH=tools/python python3 examples/pid.py
"""
import copapy as cp

KP, KI, KD = 3.0, 20.0, 0.01
DT, TAU = 0.01, 0.1            # control period and plant time constant (s)
U_MAX = 10.0                   # actuator limit


def build():
    setpoint = cp.value(1.0, name="setpoint")
    integral = cp.state(0.0, name="integral")
    prev_error = cp.state(0.0, name="prev_error")
    speed = cp.state(0.0, name="speed")      # the simulated plant

    error = setpoint - speed
    derivative = (error - prev_error) / DT
    u = cp.clamp(KP * error + KI * integral + KD * derivative, -U_MAX, U_MAX)

    integral.next(integral + error * DT)
    prev_error.next(error)
    speed.next(speed + DT / TAU * (u - speed))
    return setpoint, speed, u


if __name__ == "__main__":
    setpoint, speed, u = build()
    tg = cp.Target()
    tg.compile(speed, u)
    for k in range(300):
        tg.run()
        if k % 30 == 0 or k == 299:
            print(f"t={k * DT:4.2f} s  speed={tg.read_value(speed):.5f}  u={tg.read_value(u):.4f}")
