"""DCGAN on MNIST (the example the seed's data-loading code comes from).

A deep convolutional generator (transposed convolutions, batch norm, ReLU,
tanh) and discriminator (strided convolutions, batch norm, LeakyReLU,
sigmoid) trained adversarially with Adam on 32x32 digits. The dataset code
below is the seed's, with ``torch`` spelled ``ember``; by default it uses the
MNIST digits embedded in ember-vision, so no network is needed. A grid of
generated digits is written each epoch.
Run: ``python examples/dcgan_mnist.py [--epochs N] [--dataset folder --dataroot DIR]``.
"""

import argparse
import os

import ember
import ember.nn as nn
import ember.optim as optim
import ember.vision.datasets as dset
import ember.vision.transforms as transforms
from ember.vision.utils import save_image

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dataset", default="embedded", help="embedded | mnist | folder | cifar10")
parser.add_argument("--dataroot", default=None)
parser.add_argument("--workers", type=int, default=0)
parser.add_argument("--batchSize", type=int, default=64)
parser.add_argument("--imageSize", type=int, default=32)
parser.add_argument("--nz", type=int, default=32, help="size of the latent vector")
parser.add_argument("--ngf", type=int, default=32)
parser.add_argument("--ndf", type=int, default=32)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--steps", type=int, default=None, help="stop after this many batches")
parser.add_argument("--outf", default="dcgan_out")
opt = parser.parse_args()
os.makedirs(opt.outf, exist_ok=True)
ember.manual_seed(0)

if opt.dataset in ["imagenet", "folder", "lfw"]:
    # folder dataset
    dataset = dset.ImageFolder(
        root=opt.dataroot,
        transform=transforms.Compose(
            [
                transforms.Scale(opt.imageSize),
                transforms.CenterCrop(opt.imageSize),
                transforms.ToTensor(),
                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        ),
    )
    nc = 3
elif opt.dataset == "cifar10":
    dataset = dset.CIFAR10(
        root=opt.dataroot,
        download=True,
        transform=transforms.Compose(
            [
                transforms.Scale(opt.imageSize),
                transforms.ToTensor(),
                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        ),
    )
    nc = 3
else:
    mnist_tf = transforms.Compose(
        [
            transforms.Scale(opt.imageSize),
            transforms.ToTensor(),
            transforms.Normalize((0.5,), (0.5,)),
        ]
    )
    dataset = (
        dset.EmbeddedMNIST(train=True, transform=mnist_tf)
        if opt.dataset == "embedded"
        else dset.MNIST(root=opt.dataroot, download=True, transform=mnist_tf)
    )
    nc = 1
assert dataset
dataloader = ember.data.DataLoader(
    dataset, batch_size=opt.batchSize, shuffle=True, num_workers=int(opt.workers), drop_last=True
)


def weights_init(m):
    name = type(m).__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


nz, ngf, ndf = opt.nz, opt.ngf, opt.ndf
netG = nn.Sequential(  # nz x 1 x 1 -> nc x 32 x 32
    nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
    nn.BatchNorm2d(ngf * 4),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ngf * 2),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ngf),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
    nn.Tanh(),
)
netD = nn.Sequential(  # nc x 32 x 32 -> 1
    nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ndf * 2),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ndf * 4),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
    nn.Sigmoid(),
    nn.Flatten(0),
)
netG.apply(weights_init)
netD.apply(weights_init)

criterion = nn.BCELoss()
fixed_noise = ember.randn(64, nz, 1, 1)
optimizerD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optimizerG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))

step = 0
for epoch in range(opt.epochs):
    for i, (real, _) in enumerate(dataloader):
        b = real.size(0)
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        errD_real = criterion(netD(real), ember.ones(b))
        fake = netG(ember.randn(b, nz, 1, 1))
        errD_fake = criterion(netD(fake.detach()), ember.zeros(b))
        (errD_real + errD_fake).backward()
        optimizerD.step()
        # (2) Update G: maximize log(D(G(z)))
        netG.zero_grad()
        out = netD(fake)
        errG = criterion(out, ember.ones(b))
        errG.backward()
        optimizerG.step()
        if i % 20 == 0:
            print(
                f"[{epoch}/{opt.epochs}][{i}/{len(dataloader)}] Loss_D: "
                f"{(errD_real + errD_fake).item():.4f} Loss_G: {errG.item():.4f} "
                f"D(G(z)): {out.mean().item():.4f}"
            )
        step += 1
        if opt.steps and step >= opt.steps:
            break
    with ember.no_grad():
        netG.eval()
        samples = netG(fixed_noise)
        netG.train()
    save_image(samples * 0.5 + 0.5, f"{opt.outf}/fake_samples_epoch_{epoch:03d}.png", nrow=8)
    if opt.steps and step >= opt.steps:
        break
print(f"wrote {opt.outf}/fake_samples_epoch_*.png")
