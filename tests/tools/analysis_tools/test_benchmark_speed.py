"""tools/analysis_tools/benchmark_speed.py: the synthetic batches, and
every method timed once."""
import pytest

from analysis_tools.benchmark_speed import (benchmark_setting,
                                            results_markdown,
                                            synthetic_batches)


def test_synthetic_batches_carry_labels_and_indices():
    batches = synthetic_batches(2, 3, (3, 8, 8), 10)
    idx = [s.metainfo['sample_idx'] for b in batches for s in b['data_samples']]
    assert idx == list(range(6))
    assert batches[0]['inputs'][0].shape == (3, 8, 8)


@pytest.mark.slow
def test_benchmark_runs_every_method():
    res = benchmark_setting('resnet26->resnet26', batch_size=2, rounds=1,
                            iters=1, num_batches=1, device='cpu',
                            log=lambda msg: None)
    assert set(res['ratio_to_plain']) == {
        'plain', 'fsp_stage1', 'fsp_stage1_cached', 'kd', 'generation',
        'teacher_forward'
    }
    assert res['ratio_to_plain']['plain'] == 1.0
    assert res['stage1_floor'] > 1.0
    assert '| resnet26->resnet26 |' in results_markdown([res], 'cpu')
