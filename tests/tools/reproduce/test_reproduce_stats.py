"""tools/reproduce/stats.py: mean and spread, Markdown cells and tables,
the diversity of several models' predictions."""
import numpy as np
import pytest

from reproduce.stats import (format_range, format_stat, markdown_table,
                             mean_spread, prediction_diversity)


def test_mean_spread_and_formatting():
    stat = mean_spread([84.0, 85.0, 86.0])
    assert stat == dict(mean=85.0, std=1.0, min=84.0, max=86.0, n=3)
    assert format_stat(stat) == '85.00 ± 1.00'
    assert format_range(stat) == '84.00-86.00'
    one = mean_spread([90.5])
    assert one['std'] is None and one['n'] == 1
    assert format_stat(one) == '90.50'
    assert format_stat(None) == '' and format_range(None) == ''
    with pytest.raises(ValueError):
        mean_spread([])


def test_markdown_table():
    text = markdown_table(['a', 'b'], [[1, 'x'], [2.5, '']])
    assert text.splitlines() == ['| a | b |', '|---|---|', '| 1 | x |',
                                 '| 2.5 |  |']
    with pytest.raises(ValueError, match='cells'):
        markdown_table(['a', 'b'], [[1]])


def test_prediction_diversity():
    labels = np.array([0, 1, 2, 0])
    eye = np.eye(3, dtype=np.float32)
    a = eye[[0, 1, 2, 1]]  # 3 of 4 right
    b = eye[[0, 1, 2, 1]]  # same as a
    c = eye[[0, 2, 2, 0]]  # 3 of 4 right, other mistake
    same = prediction_diversity([a, b], labels)
    assert same['disagreement'] == 0.0
    assert same['error_correlation'] == pytest.approx(1.0)
    assert same['single'] == [75.0, 75.0]
    div = prediction_diversity([a, b, c], labels)
    # pairs: (a, b) agree; (a, c) and (b, c) differ on images 1 and 3
    assert div['disagreement'] == pytest.approx((0 + 50 + 50) / 3)
    # correct vectors a = [1,1,1,0], c = [1,0,1,1]: corr = -1/3
    assert div['error_correlation'] == pytest.approx((1 - 1 / 3 - 1 / 3) / 3)
    # majority of the one-hot scores: a and b outvote c on images 1 (right)
    # and 3 (wrong)
    assert div['ensemble_accuracy'] == 75.0
    with pytest.raises(ValueError):
        prediction_diversity([a], labels)
