"""FSP matrix (Yim et al., CVPR 2017, eq. 1) against a direct loop of the
formula."""
import pytest
import torch
import torch.nn.functional as F

from mmfsp.models.connectors import FSPConnector, fsp_matrix
from mmfsp.registry import MODELS


def loop_fsp(f1, f2):
    """G[b,i,j] = sum_{s,t} F1[b,i,s,t] F2[b,j,s,t] / (h*w), same size."""
    B, m, h, w = f1.shape
    n = f2.shape[1]
    G = torch.zeros(B, m, n, dtype=torch.float64)
    for b in range(B):
        for i in range(m):
            for j in range(n):
                total = 0.0
                for s in range(h):
                    for t in range(w):
                        total += float(f1[b, i, s, t]) * float(f2[b, j, s, t])
                G[b, i, j] = total / (h * w)
    return G


def loop_max_pool(f, k):
    """k x k max pooling written out."""
    B, C, H, W = f.shape
    out = torch.empty(B, C, H // k, W // k, dtype=f.dtype)
    for s in range(H // k):
        for t in range(W // k):
            out[:, :, s, t] = f[:, :, s * k:(s + 1) * k,
                                t * k:(t + 1) * k].amax(dim=(2, 3))
    return out


def test_same_size_matches_loop():
    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    f2 = torch.randn(2, 4, 4, 5, generator=g, dtype=torch.float64)
    G = fsp_matrix(f1, f2)
    assert G.shape == (2, 3, 4)
    torch.testing.assert_close(G, loop_fsp(f1, f2))


@pytest.mark.parametrize('larger_first', [True, False])
def test_larger_map_is_max_pooled(larger_first):
    # A CIFAR stage-2 pair: input 8x8 (m channels), output 4x4 (n channels).
    g = torch.Generator().manual_seed(1)
    big = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64)
    small = torch.randn(2, 5, 4, 4, generator=g, dtype=torch.float64)
    if larger_first:
        G = fsp_matrix(big, small)
        expected = loop_fsp(loop_max_pool(big, 2), small)
        assert G.shape == (2, 3, 5)
    else:
        G = fsp_matrix(small, big)
        expected = loop_fsp(small, loop_max_pool(big, 2))
        assert G.shape == (2, 5, 3)
    torch.testing.assert_close(G, expected)


def test_non_integer_ratio_uses_adaptive_max_pooling():
    g = torch.Generator().manual_seed(2)
    f1 = torch.randn(1, 2, 7, 7, generator=g, dtype=torch.float64)
    f2 = torch.randn(1, 3, 4, 4, generator=g, dtype=torch.float64)
    expected = loop_fsp(F.adaptive_max_pool2d(f1, (4, 4)), f2)
    torch.testing.assert_close(fsp_matrix(f1, f2), expected)


def test_cifar_resnet_shapes():
    w = 2
    stem = torch.randn(2, 16 * w, 32, 32)
    out1 = torch.randn(2, 16 * w, 32, 32)
    out2 = torch.randn(2, 32 * w, 16, 16)
    out3 = torch.randn(2, 64 * w, 8, 8)
    assert fsp_matrix(stem, out1).shape == (2, 16 * w, 16 * w)
    assert fsp_matrix(out1, out2).shape == (2, 16 * w, 32 * w)
    assert fsp_matrix(out2, out3).shape == (2, 32 * w, 64 * w)


def test_bad_inputs():
    with pytest.raises(ValueError, match='B, C, H, W'):
        fsp_matrix(torch.randn(2, 3, 4), torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match='different batches'):
        fsp_matrix(torch.randn(2, 3, 4, 4), torch.randn(3, 3, 4, 4))


def test_connector_is_parameter_free_by_default():
    conn = MODELS.build(dict(type='FSPConnector'))
    assert not list(conn.parameters())
    f1, f2 = torch.randn(2, 3, 8, 8), torch.randn(2, 4, 4, 4)
    torch.testing.assert_close(conn(f1, f2), fsp_matrix(f1, f2))


def test_connector_maps_student_channels():
    conn = FSPConnector(in_channels=(4, 8), out_channels=(16, 32))
    conn.init_weights()
    f1 = torch.randn(2, 4, 8, 8)
    f2 = torch.randn(2, 8, 4, 4)
    G = conn(f1, f2)
    assert G.shape == (2, 16, 32)
    G.sum().backward()
    assert all(p.grad is not None for p in conn.parameters())
    with pytest.raises(ValueError, match='both'):
        FSPConnector(in_channels=(4, 8))
