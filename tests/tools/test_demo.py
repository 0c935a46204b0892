"""tools/demo.py end to end on a few images (the real demo takes ~5 min;
it is measured in the README)."""
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_demo_smoke(tmp_path, fashion_mnist_root):
    out = subprocess.run(
        [sys.executable, 'tools/demo.py', '--smoke', '--work-dir',
         str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    table = (tmp_path / 'results.md').read_text()
    assert 'ResNet-8, FSP (mmfsp recommended recipe) | 6 + 6 |' in table
    assert 'ResNet-8 alone | 6 |' in table
    assert 'activate the environment' in out.stdout
