"""Expand a list of FSP layer pairs into the distiller's generic pieces.

An FSP pair (Yim et al., CVPR 2017, section 3.2) is two features of one
network, ``first`` and ``second``; its FSP matrix ``G = fsp_matrix(F1, F2)``
is compared between teacher and student by the FSP loss (eq. 2; docs/fsp.md,
"A config for a new teacher / student pair")::

    fsp_pairs=[
        dict(name='layer1',
             first=dict(type='ModuleInputs', source='backbone.layer1'),
             second=dict(type='ModuleOutputs', source='backbone.layer1')),
        ...]

expands to four recorders per pair (``fsp_<name>_first`` / ``_second`` in
both ``student_recorders`` and ``teacher_recorders``), the parameter-free
connector ``fsp`` (an :class:`FSPConnector`), one loss ``loss_fsp``
(:class:`FSPLoss` with ``pair_weights`` from the pairs' ``weight``) and its
``loss_forward_mappings`` entry
``fsp_S=[<student matrix of each pair>], fsp_T=[<teacher matrix ...>]``.

Optional keys of a pair: ``teacher_first`` / ``teacher_second`` (recorder
configs when the teacher's module names differ; the student's by default),
``weight`` (``lambda_i``, 1.0), ``student_connector`` (a connector config
for the student's side, e.g. ``dict(type='FSPConnector', in_channels=(16, 32),
out_channels=(64, 128))`` to map a thinner student to the teacher's
channels; off by default).
"""
import copy
from typing import List, Optional

FSP_CONNECTOR = 'fsp'
FSP_LOSS = 'loss_fsp'
_PAIR_KEYS = {
    'name', 'first', 'second', 'teacher_first', 'teacher_second', 'weight',
    'student_connector'
}


def expand_fsp_pairs(pairs: List[dict],
                     loss: Optional[dict] = None) -> dict:
    """Return ``dict(student_recorders, teacher_recorders, connectors,
    distill_losses, loss_forward_mappings)`` for ``pairs`` (see the module
    docstring). ``loss`` overrides the FSP loss config (``FSPLoss``)."""
    if not pairs:
        raise ValueError('fsp_pairs is empty: give at least one layer pair')
    out = dict(
        student_recorders={},
        teacher_recorders={},
        connectors={FSP_CONNECTOR: dict(type='FSPConnector')},
        distill_losses={},
        loss_forward_mappings={})
    fsp_S, fsp_T, weights, names = [], [], [], set()
    for i, pair in enumerate(pairs):
        pair = dict(pair)
        unknown = set(pair) - _PAIR_KEYS
        if unknown:
            raise ValueError(f'fsp_pairs[{i}] has unknown keys '
                             f'{sorted(unknown)}; allowed: '
                             f'{sorted(_PAIR_KEYS)}')
        for key in ('first', 'second'):
            if key not in pair:
                raise ValueError(f'fsp_pairs[{i}] needs "{key}", a recorder '
                                 f"config such as dict(type='ModuleOutputs',"
                                 f" source='backbone.layer1')")
        name = str(pair.get('name', f'pair{i + 1}'))
        if name in names:
            raise ValueError(f'two FSP pairs are named {name!r}')
        names.add(name)
        rec = (f'fsp_{name}_first', f'fsp_{name}_second')
        out['student_recorders'][rec[0]] = copy.deepcopy(pair['first'])
        out['student_recorders'][rec[1]] = copy.deepcopy(pair['second'])
        out['teacher_recorders'][rec[0]] = copy.deepcopy(
            pair.get('teacher_first') or pair['first'])
        out['teacher_recorders'][rec[1]] = copy.deepcopy(
            pair.get('teacher_second') or pair['second'])
        s_connector = FSP_CONNECTOR
        if pair.get('student_connector') is not None:
            s_connector = f'fsp_{name}_student'
            out['connectors'][s_connector] = copy.deepcopy(
                pair['student_connector'])
        fsp_S.append(
            dict(from_student=True, recorder=list(rec), connector=s_connector))
        fsp_T.append(
            dict(
                from_student=False, recorder=list(rec),
                connector=FSP_CONNECTOR))
        weights.append(float(pair.get('weight', 1.0)))
    loss_cfg = dict(type='FSPLoss')
    loss_cfg.update(copy.deepcopy(dict(loss or {})))
    loss_cfg.setdefault('pair_weights', weights)
    out['distill_losses'][FSP_LOSS] = loss_cfg
    out['loss_forward_mappings'][FSP_LOSS] = dict(fsp_S=fsp_S, fsp_T=fsp_T)
    return out
