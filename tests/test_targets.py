import pytest
import torch

from latentedit.heads import HeadConfig, PropertyHead
from latentedit.targets import Target


def identity_head(kind: str = "regression") -> PropertyHead:
    """A linear regression head on 1-number codes that predicts the code itself."""
    head = PropertyHead(HeadConfig("value", kind, code_size=1))
    with torch.no_grad():
        head.net.weight.fill_(1.0)
        head.net.bias.zero_()
    return head


@pytest.mark.parametrize("goal, min_gain, expected", [
    ("max", 0.0, [False, False, True, True]),
    ("max", 0.5, [False, False, False, True]),
    ("min", 0.0, [True, False, False, False]),
    ("min", 0.5, [True, False, False, False]),
    (3.0, 0.0, [False, False, True, True]),
    (3.0, 0.5, [False, False, False, True]),
])
def test_a_regression_target_accepts_moves_larger_than_min_gain(goal, min_gain, expected):
    start = torch.zeros(4, 1)
    codes = torch.tensor([[-1.0], [0.0], [0.3], [1.0]])
    target = Target(identity_head(), goal, min_gain=min_gain)
    assert target.accepts(codes, start).tolist() == expected
