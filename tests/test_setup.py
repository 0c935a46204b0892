"""setup.py never requires mmcv-lite next to a full mmcv: like mmpretrain,
it leaves mmcv to an extra (``mmfsp[lite]`` / ``mmfsp[mim]``)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _requires(tmp_path: Path) -> str:
    subprocess.run([sys.executable, 'setup.py', '-q', 'egg_info',
                    '--egg-base', str(tmp_path)], cwd=REPO, check=True,
                   capture_output=True)
    return (tmp_path / 'mmfsp.egg-info' / 'requires.txt').read_text()


def test_mmcv_only_in_extras(tmp_path):
    text = _requires(tmp_path)
    sections = text.split('\n[')
    plain = sections[0]
    assert 'mmcv' not in plain, plain
    extras = {s.split(']')[0]: s for s in sections[1:]}
    assert 'mmcv-lite' in extras['lite']
    assert 'mmcv<' in extras['mim'] or 'mmcv>=' in extras['mim']
    assert 'mmengine' in plain and 'mmpretrain' in plain
