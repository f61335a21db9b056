"""cnnlib.analysis.dynamics: gradient, weight and response norms against a manual backward pass
and forward hooks, and the promise to leave the model as it was found."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import (
    gradient_norms,
    gradient_norms_by_head,
    norms_by_block,
    response_stds,
    weight_norms,
)

# --- gradient and weight norms -------------------------------------------------------------------


def test_gradient_norms_match_manual_backward_and_leave_no_trace():
    torch.manual_seed(0)
    model = M.create("plain20")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    model.eval()
    norms = gradient_norms(model, x, y)
    assert list(norms)[:2] == ["conv1", "layer1.0.conv1"] and list(norms)[-1] == "fc"
    assert len(norms) == 20  # 19 convolutions + the classifier: the "20" of plain20
    assert all(p.grad is None for p in model.parameters())  # grads restored
    assert not model.training  # mode restored
    model.train()
    nn.functional.cross_entropy(model(x), y).backward()
    assert norms["conv1"] == pytest.approx(float(model.conv1.weight.grad.norm()), rel=1e-6)
    assert norms["fc"] == pytest.approx(float(model.fc.weight.grad.norm()), rel=1e-6)


def test_relative_gradient_norms_divide_by_the_weight_norms():
    torch.manual_seed(0)
    model = M.create("plain20")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    absolute = gradient_norms(model, x, y)
    relative = gradient_norms(model, x, y, relative=True)
    weights = weight_norms(model)
    assert list(weights) == list(absolute) == list(relative)
    assert weights["conv1"] == pytest.approx(float(model.conv1.weight.detach().norm()), rel=1e-6)
    for name in absolute:
        assert relative[name] == pytest.approx(absolute[name] / weights[name], rel=1e-6)
    # batch norm after every convolution: scaling a weight by 10 divides its gradient by 10,
    # its relative step by 100, and changes nothing else (up to batch norm's epsilon)
    with torch.no_grad():
        model.layer2[0].conv1.weight.mul_(10.0)
    scaled = gradient_norms(model, x, y)
    assert scaled["layer2.0.conv1"] == pytest.approx(absolute["layer2.0.conv1"] / 10, rel=1e-2)
    assert scaled["conv1"] == pytest.approx(absolute["conv1"], rel=1e-2)
    with pytest.raises(ValueError, match="no"):
        weight_norms(nn.Sequential(nn.ReLU()))


def test_gradient_norms_rejects_bad_input():
    with pytest.raises(ValueError, match="N, C, H, W"):
        gradient_norms(M.create("resnet20"), torch.randn(3, 32, 32), torch.zeros(3).long())
    with pytest.raises(ValueError, match="one label per image"):
        x = torch.randn(2, 3, 32, 32)
        gradient_norms(M.create("resnet20"), x, torch.zeros(3).long())


def test_gradient_norms_leave_the_batch_norm_statistics_alone(as_if_trained):
    """The chapter measures gradients between training epochs: the measurement must not move
    the running statistics that evaluation uses."""
    torch.manual_seed(0)
    model = as_if_trained(M.create("plain20"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norms = gradient_norms(model, torch.randn(8, 3, 32, 32), torch.zeros(8, dtype=torch.long))
    assert list(norms)[0] == "conv1" and list(norms)[-1] == "fc" and len(norms) == 20
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


# --- responses (the ResNet paper's figure 7) -----------------------------------------------------


def test_response_stds_are_the_batch_norm_outputs_in_eval_mode():
    """The paper's figure 7 measures the output of every 3x3 layer after BN; in a residual block
    the last BN's output is F(x)."""
    torch.manual_seed(0)
    model = M.create("resnet20")
    model.train()
    x = torch.randn(6, 3, 32, 32)
    stds = response_stds(model, x)
    assert model.training  # mode restored
    assert len(stds) == 19  # the stem BN + two per block: one per 3x3 convolution
    assert list(stds)[:3] == ["bn1", "layer1.0.bn1", "layer1.0.bn2"]
    block = model.layer2[1]
    seen = {}
    model.eval()
    with torch.no_grad():
        model.layer2[1].register_forward_pre_hook(lambda m, inp: seen.update(x=inp[0].clone()))
        model(x)
        residual = block.residual(seen["x"])
    assert stds["layer2.1.bn2"] == pytest.approx(float(residual.std()), rel=1e-5)
    # a zero last scale makes F(x) = 0: the block's response is exactly 0
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
    assert response_stds(model, x)["layer2.1.bn2"] == 0.0
    with pytest.raises(ValueError, match="N, C, H, W"):
        response_stds(model, torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="no"):
        response_stds(nn.Sequential(nn.Conv2d(3, 3, 1)), x)


# --- GoogLeNet: the gradient from the main and the auxiliary losses ------------------------------


def test_gradient_norms_by_head_adds_up():
    torch.manual_seed(0)
    model = M.create("googlenet_cifar")
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    torch.manual_seed(1)  # the same dropout masks in both forward passes
    norms = gradient_norms_by_head(model, x, y, aux_weight=0.3)
    assert list(norms) == ["main", "aux", "total"]
    assert list(norms["main"])[0] == "conv1.conv"
    # layers after the second head get no gradient from the auxiliary losses
    assert norms["aux"]["inception4e.branch1.conv"] == 0.0
    assert norms["aux"]["conv1.conv"] > 0.0
    # the total is the gradient of main + 0.3 * aux, as fit() trains
    model.zero_grad()
    torch.manual_seed(1)
    out = model.train()(x)
    (F.cross_entropy(out[0], y) + 0.3 * sum(F.cross_entropy(a, y) for a in out[1:])).backward()
    assert norms["total"]["conv1.conv"] == pytest.approx(float(model.conv1.conv.weight.grad.norm()),
                                                         rel=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="auxiliary heads"):
        gradient_norms_by_head(M.create("googlenet_cifar", aux_logits=False), x, y)


def test_norms_by_block_is_the_norm_of_each_blocks_layers_together():
    norms = {"conv1.conv": 3.0, "inception3a.branch1.conv": 3.0, "inception3a.branch2.1.conv": 4.0,
             "aux1.conv.conv": 7.0, "fc": 2.0}  # fmt: skip
    assert norms_by_block(norms) == {"conv1": 3.0, "inception3a": 5.0, "fc": 2.0}
    assert list(norms_by_block(norms, skip=())) == ["conv1", "inception3a", "aux1", "fc"]
    # on a real GoogLeNet: every block's norm is the norm of all its convolutions' gradients
    torch.manual_seed(0)
    model = M.create("googlenet_cifar")
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    main = gradient_norms_by_head(model, x, y)["main"]
    blocks = norms_by_block(main)
    assert "aux1" not in blocks and list(blocks)[:2] == ["conv1", "conv2"]
    module = [v for k, v in main.items() if k.startswith("inception4b.")]
    assert blocks["inception4b"] == pytest.approx(sum(v**2 for v in module) ** 0.5)
