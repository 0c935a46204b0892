"""tools/ is not a package: put it on ``sys.path`` as tools/reproduce.py
does, so that these tests import ``reproduce`` and ``analysis_tools`` (and
the tools run in-process use the very same modules)."""
import sys

from tests.conftest import REPO_ROOT

if str(REPO_ROOT / 'tools') not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / 'tools'))
