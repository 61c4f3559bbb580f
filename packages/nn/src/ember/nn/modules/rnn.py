"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, packed input) and
their single-step cells.

Parameters are named as in PyTorch (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0`` for LSTM projections, a
``_reverse`` suffix for the backward direction), gates stacked in PyTorch's order
(LSTM: i, f, g, o; GRU: r, z, n), so PyTorch state dicts load by name.

Per layer and direction the input projections of all time steps are one matrix
product; the recurrence itself is one fused op (``F._rnn.rnn_sequence``).
"""

from __future__ import annotations

import math

import numpy as np

import ember as E
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn import init
from ember.nn.functional import _rnn
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _kw(device, dtype) -> dict:
    return {"device": device, "dtype": dtype if dtype is not None else E.get_default_dtype()}


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    Input (T, B, input_size) (or (B, T, input_size) with ``batch_first``; or
    (T, input_size) unbatched; or a :class:`PackedSequence`). Output
    (T, B, D * H_out) with D = 2 if bidirectional, plus the final hidden state
    (num_layers * D, B, H_out) (and cell state for LSTM).
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not (isinstance(hidden_size, int) and hidden_size > 0):
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if not (isinstance(num_layers, int) and num_layers > 0):
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size < 0 or proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size must be in [0, hidden_size={hidden_size}), got {proj_size}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is only supported by LSTM")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        h_out = proj_size or hidden_size
        kw = _kw(device, dtype)
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(2 if bidirectional else 1):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_size = input_size if layer == 0 else h_out * (2 if bidirectional else 1)
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, h_out))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for pname, shape in shapes:
                    setattr(self, pname + sfx, Parameter(E.empty(shape, **kw)))
                    self._flat_weights_names.append(pname + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Kept for PyTorch compatibility: cuDNN wants one contiguous weight buffer;
        ember's recurrence reads the parameters as they are, so this does nothing."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order."""
        names = self._flat_weights_names
        per = len(names) // (self.num_layers * self._num_directions)
        return [[getattr(self, n) for n in names[i : i + per]] for i in range(0, len(names), per)]

    @property
    def _num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _layer_params(self, layer: int, d: int):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = self.__dict__["_parameters"].get
        return (
            get("weight_ih" + sfx),
            get("weight_hh" + sfx),
            get("bias_ih" + sfx),
            get("bias_hh" + sfx),
            get("weight_hr" + sfx),
        )

    # ----- input handling -----
    def _flatten_input(self, input):
        """(data (N, F), batch_sizes, batch, sorted, unsorted, restore)."""
        if isinstance(input, PackedSequence):
            data, bs, sorted_idx, unsorted_idx = input
            bs = bs._a.astype(np.int64)
            self._check_features(data, data.shape[-1])
            return data, bs, int(bs[0]), sorted_idx, unsorted_idx, None
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{self._describe()}: input must be a Tensor or PackedSequence, "
                f"got {type(input).__name__}"
            )
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{self._describe()}: expected 3-D (batched) or 2-D (unbatched) input of "
                f"features {self.input_size}, got input of shape {tuple(input.shape)}"
            )
        self._check_features(input, input.shape[-1])
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else input
        if self.batch_first and not unbatched:
            x = x.transpose(0, 1)
        t, b = x.shape[0], x.shape[1]
        data = x.reshape(t * b, x.shape[2])
        return data, np.full(t, b, np.int64), b, None, None, (t, b, unbatched)

    def _check_features(self, x: Tensor, got: int) -> None:
        if got != self.input_size:
            raise RuntimeError(
                f"{self._describe()}: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {got} (input of shape {tuple(x.shape)})"
            )

    def _check_hidden(self, h: Tensor, expected: tuple, what: str, unbatched: bool) -> Tensor:
        want = expected[::2] if unbatched else expected
        if not isinstance(h, Tensor) or tuple(h.shape) != want:
            got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
            raise RuntimeError(f"{self._describe()}: expected {what} of shape {want}, got {got}")
        return h.unsqueeze(1) if unbatched else h

    def _initial_states(self, hx, batch: int, dtype, unbatched: bool, sorted_idx, device=None):
        ld = self.num_layers * self._num_directions
        h_out = self.proj_size or self.hidden_size
        h_shape, c_shape = (ld, batch, h_out), (ld, batch, self.hidden_size)
        if hx is None:
            h0 = E.zeros(h_shape, dtype=dtype, device=device)
            c0 = E.zeros(c_shape, dtype=dtype, device=device) if self.mode == "LSTM" else None
            return h0, c0
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._describe()}: hx must be a tuple (h_0, c_0)")
            h0 = self._check_hidden(hx[0], h_shape, "hidden state h_0", unbatched)
            c0 = self._check_hidden(hx[1], c_shape, "cell state c_0", unbatched)
        else:
            h0 = self._check_hidden(hx, h_shape, "hidden state h_0", unbatched)
            c0 = None
        if sorted_idx is not None:  # the caller's batch order -> the packed (sorted) one
            h0 = h0.index_select(1, sorted_idx)
            c0 = c0.index_select(1, sorted_idx) if c0 is not None else None
        return h0, c0

    # ----- the computation -----
    def forward(self, input, hx=None):
        data, bs, batch, sorted_idx, unsorted_idx, restore = self._flatten_input(input)
        unbatched = restore is not None and restore[2]
        h0, c0 = self._initial_states(hx, batch, data.dtype, unbatched, sorted_idx, data.device)
        layer_in = data
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self._num_directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, d)
                k = layer * self._num_directions + d
                xg = F.linear(layer_in, w_ih, b_ih)
                res = _rnn.rnn_sequence(
                    self.mode,
                    xg,
                    w_hh,
                    b_hh,
                    w_hr,
                    h0[k],
                    None if c0 is None else c0[k],
                    bs,
                    d == 1,
                )
                outs.append(res[0])
                hs.append(res[1])
                if c0 is not None:
                    cs.append(res[2])
            layer_in = outs[0] if len(outs) == 1 else E.cat(outs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = E.stack(hs, 0)
        c_n = E.stack(cs, 0) if cs else None
        if unsorted_idx is not None:
            h_n = h_n.index_select(1, unsorted_idx)
            c_n = c_n.index_select(1, unsorted_idx) if c_n is not None else None
        if restore is None:
            output = PackedSequence(layer_in, input.batch_sizes, sorted_idx, unsorted_idx)
        else:
            t, b, _ = restore
            output = layer_in.reshape(t, b, layer_in.shape[-1])
            if unbatched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` with
    ``nonlinearity`` 'tanh' (default) or 'relu'. See :class:`RNNBase` for shapes."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (use 'tanh' or 'relu')")
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o from ``x W_ih^T + b_ih + h W_hh^T + b_hh``,
    ``c' = f c + i g``, ``h' = o tanh(c')`` (then ``h' W_hr^T`` when ``proj_size > 0``).
    ``forward(input, (h_0, c_0))`` returns ``output, (h_n, c_n)``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )


class GRU(RNNBase):
    """Gated recurrent unit: ``r, z = sigmoid(...)``, ``n = tanh(x W_in^T + b_in +
    r (h W_hn^T + b_hn))``, ``h' = (1 - z) n + z h``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )


# ----- cells -----
class RNNCellBase(Module):
    """Shared parameters of the cells: ``weight_ih`` (G*H, in), ``weight_hh`` (G*H, H),
    ``bias_ih``/``bias_hh`` (G*H,), all from U(-1/sqrt(H), 1/sqrt(H))."""

    _gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = _kw(device, dtype)
        g = self._gates * hidden_size
        self.weight_ih = Parameter(E.empty((g, input_size), **kw))
        self.weight_hh = Parameter(E.empty((g, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(E.empty(g, **kw))
            self.bias_hh = Parameter(E.empty(g, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for everything."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input: Tensor, hx, n_states: int):
        """Validate, add a batch dim to unbatched input; zero states when hx is None."""
        if not isinstance(input, Tensor) or input.dim() not in (1, 2):
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(
                f"{self._describe()}: expected input of shape (B, {self.input_size}) or "
                f"({self.input_size},), got {got}"
            )
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{self._describe()}: input has {input.shape[-1]} features, expected "
                f"input_size={self.input_size} (input of shape {tuple(input.shape)})"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        want = (x.shape[0], self.hidden_size)
        if hx is None:
            states = [E.zeros(want, dtype=x.dtype, device=x.device) for _ in range(n_states)]
        else:
            states = list(hx) if n_states > 1 else [hx]
            for i, h in enumerate(states):
                h = h.unsqueeze(0) if unbatched and isinstance(h, Tensor) else h
                if not isinstance(h, Tensor) or tuple(h.shape) != want:
                    got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
                    raise RuntimeError(
                        f"{self._describe()}: expected hidden state {i} of shape {want}, got {got}"
                    )
                states[i] = h
        return x, states, unbatched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


def _squeeze(t: Tensor, unbatched: bool) -> Tensor:
    return t.squeeze(0) if unbatched else t


class RNNCell(RNNCellBase):
    """One Elman step: (B, in), h (B, H) -> h' (B, H); ``nonlinearity`` 'tanh' or 'relu'."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, hx, 1)
        fn = _rnn.rnn_tanh_cell if self.nonlinearity == "tanh" else _rnn.rnn_relu_cell
        return _squeeze(
            fn(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh), unbatched
        )


class LSTMCell(RNNCellBase):
    """One LSTM step: (B, in), (h, c) each (B, H) -> (h', c')."""

    _gates = 4

    def forward(self, input: Tensor, hx=None) -> tuple[Tensor, Tensor]:
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h, c = _rnn.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return _squeeze(h, unbatched), _squeeze(c, unbatched)


class GRUCell(RNNCellBase):
    """One GRU step: (B, in), h (B, H) -> h' (B, H)."""

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, hx, 1)
        out = _rnn.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return _squeeze(out, unbatched)
