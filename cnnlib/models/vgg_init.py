"""VGG's section 3.1: how the paper started its networks without batch norm. Its random
initialisation (:func:`vgg_paper_init_`, on the paper's pixel scale :data:`PAPER_INPUT_STD`) and
its start of a deep net from the trained net A (:func:`init_from_shallower_`), for the CIFAR
teaching models of :mod:`cnnlib.models.vgg` (chapter 4's experiment ``vgg_init``)."""

from __future__ import annotations

import torch
from torch import nn

from cnnlib.models.vgg import VGGCifar

__all__ = ["PAPER_INPUT_STD", "init_from_shallower_", "vgg_paper_init_"]

# The paper's fully connected layers: fc6 sees 512 x 7 x 7 values, fc7 and fc8 4,096.
_PAPER_FC_FAN_IN = (512 * 7 * 7, 4096, 4096)

#: The spread of the paper's input: section 2.1's only pre-processing is subtracting the mean RGB
#: value, so its pixels stay on the 0-255 scale, where ImageNet's per-channel standard deviations
#: (0.229, 0.224, 0.225 of 255, torchvision's normalisation) average about 57.6. A ReLU network
#: without biases is positively homogeneous, so this factor reaches the logits unchanged:
#: ``VGGCifar(input_scale=PAPER_INPUT_STD)`` on cnnlib's unit-spread inputs is the paper's scale.
PAPER_INPUT_STD = round(255 * (0.229 + 0.224 + 0.225) / 3, 1)


@torch.no_grad()
def vgg_paper_init_(model: VGGCifar, std: float = 0.01) -> dict[str, float]:
    """The paper's random initialisation (section 3.1: weights from N(0, 0.01^2), biases zero),
    carried over to a narrower CIFAR net by what it does to the signal. A layer multiplies the
    scale of its input by about std x sqrt(fan-in); each layer here gets the std that gives the
    factor the same layer has in the paper's network (full width, fc6 on a 7x7 map):
    ``std x sqrt(paper fan-in / fan-in)``. At width 1 every convolution gets 0.01 exactly.
    Returns ``{layer: std}``."""
    if not isinstance(model, VGGCifar):
        raise TypeError(f"vgg_paper_init_ needs a VGGCifar; got {type(model).__name__}")
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    fcs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    paper_fan_in = {}
    for i, (name, m) in enumerate(convs):
        c_in = m.in_channels if i == 0 else m.in_channels / model.width  # the paper's width
        paper_fan_in[name] = c_in * m.kernel_size[0] * m.kernel_size[1]
    for (name, _), fan_in in zip(fcs, _PAPER_FC_FAN_IN[-len(fcs) :], strict=True):
        paper_fan_in[name] = fan_in
    stds = {}
    for name, m in convs + fcs:
        fan_in = m.weight[0].numel()
        stds[name] = std * (paper_fan_in[name] / fan_in) ** 0.5
        nn.init.normal_(m.weight, std=stds[name])
        nn.init.zeros_(m.bias)
    return stds


@torch.no_grad()
def init_from_shallower_(deep: VGGCifar, shallow: VGGCifar, convs: int = 4) -> dict[str, str]:
    """VGG's way to start a deep net (section 3.1): its first ``convs`` convolutions and its
    fully connected layers copied from the trained net A (``shallow``), the layers in between
    left as they are (the paper: random). The paper does not say which layers of a deeper net
    take A's first four; their shapes fix it: each goes, in order, to the next convolution of
    ``deep`` with the same shape (A's conv1, conv2, conv3_1, conv3_2 -> D's conv1_1, conv2_1,
    conv3_1, conv3_2; D's conv1_2 and conv2_2 have no counterpart in A). Returns
    ``{deep layer: shallow layer}``; an error if a layer finds no place."""
    targets = [(n, m) for n, m in deep.named_modules() if isinstance(m, nn.Conv2d)]
    sources = [(n, m) for n, m in shallow.named_modules() if isinstance(m, nn.Conv2d)][:convs]
    pairs, start = {}, 0
    for s_name, s in sources:
        hit = next((j for j in range(start, len(targets))
                    if targets[j][1].weight.shape == s.weight.shape), None)  # fmt: skip
        if hit is None:
            after = targets[start - 1][0] if start else "the input"
            raise ValueError(
                f"no convolution of the deep net after {after} has the shape of {s_name} "
                f"{tuple(s.weight.shape)}"
            )
        pairs[targets[hit][0]] = s_name
        start = hit + 1
    fc_deep = [(n, m) for n, m in deep.named_modules() if isinstance(m, nn.Linear)]
    fc_shallow = [(n, m) for n, m in shallow.named_modules() if isinstance(m, nn.Linear)]
    if [m.weight.shape for _, m in fc_deep] != [m.weight.shape for _, m in fc_shallow]:
        raise ValueError("the fully connected layers of the two nets differ in shape")
    pairs |= {d: s for (d, _), (s, _) in zip(fc_deep, fc_shallow, strict=True)}
    modules_deep, modules_shallow = dict(deep.named_modules()), dict(shallow.named_modules())
    for d, s in pairs.items():
        modules_deep[d].weight.copy_(modules_shallow[s].weight)
        modules_deep[d].bias.copy_(modules_shallow[s].bias)
    return pairs
