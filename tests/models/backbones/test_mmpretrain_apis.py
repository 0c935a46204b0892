"""A converted student works with mmpretrain's own APIs (get_model and the
inferencer build in the mmpretrain scope, which cannot see mmfsp's)."""
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from mmpretrain.apis import ImageClassificationInferencer, get_model

from mmfsp.models.algorithms import convert_distill_checkpoint
from mmfsp.registry import MODELS

REPO = Path(__file__).resolve().parents[3]
STUDENT_CFG = str(REPO / 'configs/resnet/resnet8_1xb128_fashion-mnist.py')


def _converted_student(tmp_path: Path):
    plain = MODELS.build(Config.fromfile(STUDENT_CFG).model)
    distill = {f'architecture.{k}': v for k, v in plain.state_dict().items()}
    distill.update({f'teacher.{k}': torch.zeros_like(v)
                    for k, v in plain.state_dict().items()})
    src, dst = tmp_path / 'distill.pth', tmp_path / 'student.pth'
    save_checkpoint(dict(state_dict=distill,
                         meta=dict(cfg='distillation config text', iter=5)),
                    str(src))
    out = convert_distill_checkpoint(str(src), str(dst))
    return plain, dst, out


def test_get_model_loads_converted_student(tmp_path):
    plain, student, written = _converted_student(tmp_path)
    assert 'cfg' not in written['meta']  # not the distillation config
    model = get_model(STUDENT_CFG, pretrained=str(student))
    assert type(model.backbone).__name__ == 'CifarResNet'
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_inferencer_predicts_with_converted_student(tmp_path):
    plain, student, _ = _converted_student(tmp_path)
    inferencer = ImageClassificationInferencer(
        STUDENT_CFG, pretrained=str(student), device='cpu')
    image = np.random.default_rng(0).integers(0, 255, (28, 28, 1),
                                              dtype=np.uint8)
    result = inferencer(image)[0]
    plain.eval()
    inputs = (torch.from_numpy(image).float().permute(2, 0, 1)[None] -
              72.94) / 90.02
    with torch.no_grad():
        expected = int(plain(inputs, mode='tensor').argmax(1))
    assert result['pred_label'] == expected
