"""The seed's two-layer network, the third way: autograd, ``ember.nn`` and ``ember.optim``.

The model is an ``nn.Sequential`` of Linear, ReLU and Linear; the loss is
``nn.MSELoss(reduction='sum')``; the optimizer is Adam. The training loop is the
seed's: ``optimizer.zero_grad(); output = model(input); loss = loss_fn(output,
target); loss.backward(); optimizer.step()``.
Run: ``python examples/two_layer_net_nn.py [--steps N]``.
"""

import argparse

import ember
import ember.nn as nn
import ember.optim as optim

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=500)
args = parser.parse_args()
ember.manual_seed(0)

N, D_in, H, D_out = 64, 1000, 100, 10
x = ember.randn(N, D_in)
y = ember.randn(N, D_out)

model = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
loss_fn = nn.MSELoss(reduction="sum")
optimizer = optim.Adam(model.parameters(), lr=1e-4)

for t in range(args.steps):
    optimizer.zero_grad()
    output = model(x)
    loss = loss_fn(output, y)
    loss.backward()
    optimizer.step()
    if t % 50 == 0 or t == args.steps - 1:
        print(t, loss.item())
print(f"final loss after {args.steps} steps: {loss.item():.4f}")
