"""model-index.yml and the metafiles it imports (mmpretrain's schema, read by
``mim search`` and by mmengine for ``mmfsp::`` configs): every metafile
exists, every model's config exists and is named after it, and every shipped
config is listed in exactly one metafile, once."""
import re
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs'


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding='utf-8'))


def metafiles() -> list:
    index = _load(REPO / 'model-index.yml')
    return [REPO / p for p in index['Import']]


def shipped() -> set:
    return {
        str(p.relative_to(REPO))
        for p in CONFIGS.glob('*/*.py') if p.parent.name != '_base_'
    }


def test_model_index_imports_one_metafile_per_config_folder():
    paths = metafiles()
    for path in paths:
        assert path.is_file(), f'model-index.yml imports a missing {path}'
    folders = {p.parent.name for p in CONFIGS.glob('*/*.py')} - {'_base_'}
    assert sorted(p.parent.name for p in paths) == sorted(folders)
    for folder in folders:
        assert (CONFIGS / folder / 'README.md').is_file(), folder


def test_every_shipped_config_is_in_exactly_one_metafile():
    listed = Counter()
    for path in metafiles():
        meta = _load(path)
        collections = {c['Name']: c for c in meta['Collections']}
        for collection in collections.values():
            assert (REPO / collection['README']).is_file()
            assert collection['Paper']['URL'].startswith('https://')
        for model in meta['Models']:
            config = model['Config']
            assert (REPO / config).is_file(), f'{path}: {config} is missing'
            assert Path(config).parent == path.parent.relative_to(REPO), (
                f'{path} lists {config} of another folder')
            assert model['Name'] == Path(config).stem, model['Name']
            assert model['In Collection'] in collections, model['Name']
            assert set(model['Metadata']) >= {'Training Data', 'Batch Size'}
            for result in model.get('Results') or []:
                assert result['Metrics'], model['Name']
            listed[config] += 1
    assert set(listed) == shipped(), sorted(set(listed) ^ shipped())
    assert [c for c, n in listed.items() if n > 1] == []


def test_metafile_batch_size_is_the_name_s_gpus_x_batch():
    for path in metafiles():
        for model in _load(path)['Models']:
            gpus, batch = map(int, re.search(r'_(\d+)xb(\d+)_',
                                             model['Name']).groups())
            assert model['Metadata']['Batch Size'] == gpus * batch, \
                model['Name']
            teacher = model['Metadata'].get('Teacher Config')
            if teacher:
                assert (REPO / teacher).is_file(), (model['Name'], teacher)
