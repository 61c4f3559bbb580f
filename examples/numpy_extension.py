"""Extending ember with numpy and scipy (the seed's "extensions" tutorial).

Two custom autograd Functions: a parameter-free layer that calls numpy's FFT,
and a layer with a learnable filter that calls ``scipy.signal`` for a 2-D
cross-correlation. Their backward passes are written by hand in numpy/scipy
and checked with ``gradcheck``. Needs scipy (``pip install scipy``).
Run: ``python examples/numpy_extension.py``.
"""

import numpy as np
from scipy.signal import convolve2d, correlate2d

import ember
from ember.autograd import Function, gradcheck
from ember.nn import Module, Parameter


class BadFFTFunction(Function):
    """|rfft2(x)|, a layer with no parameters; its backward is irfft2 of the gradient."""

    @staticmethod
    def forward(ctx, input):
        numpy_input = input.detach().numpy()
        result = abs(np.fft.rfft2(numpy_input))
        return ember.from_numpy(result).to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        numpy_go = grad_output.numpy()
        result = np.fft.irfft2(numpy_go)
        return ember.from_numpy(result).to(grad_output.dtype)


def incorrect_fft(input):
    return BadFFTFunction.apply(input)


class ScipyConv2dFunction(Function):
    """Valid cross-correlation of an image with a learnable filter, plus a bias."""

    @staticmethod
    def forward(ctx, input, filter, bias):
        input, filter = input.detach(), filter.detach()
        result = correlate2d(input.numpy(), filter.numpy(), mode="valid")
        result += bias.detach().numpy()
        ctx.save_for_backward(input, filter, bias)
        return ember.from_numpy(result).to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        input, filter, bias = ctx.saved_tensors
        go = grad_output.numpy()
        grad_bias = np.sum(go, keepdims=True)
        grad_input = convolve2d(go, filter.numpy(), mode="full")
        grad_filter = correlate2d(input.numpy(), go, mode="valid")
        return (
            ember.from_numpy(grad_input),
            ember.from_numpy(grad_filter),
            ember.from_numpy(grad_bias).reshape(bias.shape),
        )


class ScipyConv2d(Module):
    def __init__(self, filter_width, filter_height):
        super().__init__()
        self.filter = Parameter(ember.randn(filter_width, filter_height))
        self.bias = Parameter(ember.randn(1, 1))

    def forward(self, input):
        return ScipyConv2dFunction.apply(input, self.filter, self.bias)


if __name__ == "__main__":
    ember.manual_seed(0)
    input = ember.randn(8, 8, requires_grad=True)
    result = incorrect_fft(input)
    result.backward(ember.randn(result.size()))
    print("BadFFT output", tuple(result.shape), "input grad", tuple(input.grad.shape))

    module = ScipyConv2d(3, 3)
    print("filter and bias:", [tuple(p.shape) for p in module.parameters()])
    input = ember.randn(10, 10, requires_grad=True)
    output = module(input)
    output.backward(ember.randn(8, 8))
    print("gradient for the input map:", tuple(input.grad.shape))

    moduleConv = ScipyConv2d(3, 3).double()
    inp = [ember.randn(20, 20, dtype=ember.float64, requires_grad=True)]
    ok = gradcheck(moduleConv, inp, eps=1e-6, atol=1e-4)
    print("gradcheck of the scipy layer:", ok)
    assert ok
