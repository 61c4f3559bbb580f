"""ember.optim: optimizers and learning-rate schedulers with PyTorch's API::

    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=10)
    for x, y in data:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    sched.step()

An optimizer takes any iterable of tensors (leaves with ``requires_grad=True``), of
``(name, tensor)`` pairs, or of dicts that give a parameter group its own options.
"""

from ember.optim import lr_scheduler
from ember.optim.adadelta import Adadelta
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from ember.optim.asgd import ASGD
from ember.optim.lbfgs import LBFGS
from ember.optim.optimizer import Optimizer, required
from ember.optim.rmsprop import RMSprop
from ember.optim.rprop import Rprop
from ember.optim.sgd import SGD

__all__ = [
    "ASGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "lr_scheduler",
    "required",
]
