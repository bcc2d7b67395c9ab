import copapy as cp

# Define variables
a = cp.value(0.25)
b = cp.value(0.87, range=(0.0, 1.0))  # declared: sqrt(b) below is safe

# Define computations
c = a + b * 2.0
d = c ** 2 + cp.sin(a)
e = cp.sqrt(b)

# Create a target (default is local), compile and run
tg = cp.Target()
tg.compile(c, d, e)
tg.run()

# Read the results
print("Result c:", tg.read_value(c))
print("Result d:", tg.read_value(d))
print("Result e:", tg.read_value(e))
