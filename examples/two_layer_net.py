"""The seed's two-layer network, with ember tensors and a hand-written backward pass.

A fully connected ReLU network with one hidden layer, trained to fit random data
by minimizing the squared Euclidean distance, exactly as in the talk the project
grew from (``torch`` spelled ``ember``). Run: ``python examples/two_layer_net.py``.
"""

import argparse

import ember

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=500)
parser.add_argument("--quiet", action="store_true", help="print only the final loss")
args = parser.parse_args()

dtype = ember.FloatTensor
# dtype = ember.cuda.FloatTensor # Uncomment this to run on GPU
ember.manual_seed(0)

# N is batch size; D_in is input dimension;
# H is hidden dimension; D_out is output dimension.
N, D_in, H, D_out = 64, 1000, 100, 10

# Create random input and output data
x = ember.randn(N, D_in).type(dtype)
y = ember.randn(N, D_out).type(dtype)

# Randomly initialize weights
w1 = ember.randn(D_in, H).type(dtype)
w2 = ember.randn(H, D_out).type(dtype)

learning_rate = 1e-6
for t in range(args.steps):
    # Forward pass: compute predicted y
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)

    # Compute and print loss
    loss = (y_pred - y).pow(2).sum()
    if not args.quiet and (t % 50 == 0 or t == args.steps - 1):
        print(t, loss.item())

    # Backprop to compute gradients of w1 and w2 with respect to loss
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)

    # Update weights using gradient descent
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2

print(f"final loss after {args.steps} steps: {loss.item():.4f}")
