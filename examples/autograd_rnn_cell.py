"""The seed's autograd example: one step of a vanilla RNN cell, differentiated.

``next_h = tanh(W_x x^T + W_h h^T)`` is built from ordinary tensor ops; calling
``backward`` on it fills ``W_h.grad`` and ``W_x.grad``. The script checks them
against the hand-derived gradient ``(1 - next_h^2) x`` and prints the error.
Run: ``python examples/autograd_rnn_cell.py``.
"""

import ember
from ember.autograd import Variable

ember.manual_seed(0)
x = Variable(ember.randn(1, 10))
prev_h = Variable(ember.randn(1, 20))
W_h = Variable(ember.randn(20, 20), requires_grad=True)
W_x = Variable(ember.randn(20, 10), requires_grad=True)

i2h = ember.mm(W_x, x.t())
h2h = ember.mm(W_h, prev_h.t())
next_h = i2h + h2h
next_h = next_h.tanh()

next_h.backward(ember.ones(1, 20))

# Hand-derived: d sum(tanh(z)) / dW_x = (1 - tanh(z)^2) x, and likewise for W_h.
d = 1 - next_h.detach() ** 2
err_x = (W_x.grad - d.mm(x)).abs().max().item()
err_h = (W_h.grad - d.mm(prev_h)).abs().max().item()
print(f"next_h: {tuple(next_h.shape)}, grad_fn={next_h.grad_fn.name()}")
print(f"max |W_x.grad - hand-derived| = {err_x:.2e}")
print(f"max |W_h.grad - hand-derived| = {err_h:.2e}")
assert max(err_x, err_h) < 1e-5
