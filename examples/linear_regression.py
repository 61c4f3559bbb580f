"""The seed's "linear style of programming": fit y = 2x by stochastic gradient
descent, one sample at a time, updating ``w.data`` by hand.

Two corrections to the slide's code: it stepped along ``+grad`` (ascent) and never
cleared ``w.grad``, so its w drifts away from 2; here the step is ``-grad`` and the
gradient is zeroed after each update. Everything else is the slide's code.

Run: ``python examples/linear_regression.py [--epochs N]``.
"""

import argparse

import ember
from ember.autograd import Variable

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=100)
args = parser.parse_args()

ember.manual_seed(0)
trX = ember.linspace(-1, 1, 101)
trY = 2 * trX + ember.randn(*trX.size()) * 0.33

w = Variable(trX.new([0.0]), requires_grad=True)

for i in range(args.epochs):
    for x, y in zip(trX, trY):
        X = Variable(x)
        Y = Variable(y)

        y_model = X * w.expand_as(X)
        cost = (Y - y_model) ** 2
        cost.backward(ember.ones(*cost.size()))

        w.data = w.data - 0.01 * w.grad.data
        w.grad.data.zero_()

print(f"w after {args.epochs} epochs: {w.item():.4f} (true slope 2, noise 0.33)")
assert abs(w.item() - 2) < 0.3
