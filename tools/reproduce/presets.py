"""The scales of a reproduction (:class:`Preset`, :data:`PRESETS`) and the
shipped Fashion-MNIST configs each experiment trains (docs/reproduction.md,
"What is trained")."""
import copy
import functools
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Tuple

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ACC_KEY = 'accuracy/top1'
TEST_SET_SIZE = 10000
#: ``Preset.evaluate_on='validation'``: the held-out training images every
#: model is evaluated on instead of the test set (the last 10,000)
VALIDATION_IMAGES = (50000, 60000)
EXPERIMENTS = ('a', 'b', 'c', 'd')
DATA_PATHS = ('tensor', 'pipeline')
#: (d)'s learning-rate schedules: the configs' steps (x0.1 at 1/2 and 3/4
#: of a generation) or a cosine decay to 0 over the generation
GENERATION_SCHEDULES = ('step', 'cosine')

TEACHER_CFG = 'configs/resnet/resnet26_1xb128_fashion-mnist.py'
R8_CFG = 'configs/resnet/resnet8_1xb128_fashion-mnist.py'
R26_THIRD_CFG = 'configs/resnet/resnet26_1xb128_fashion-mnist_1k.py'
FSP_R8_CFG = 'configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist.py'
FSP_R26_CFG = 'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist.py'
FSP_R8_RESCALED_CFG = \
    'configs/fsp/fsp-paper_resnet26_resnet8_1xb128_fashion-mnist_rescaled.py'
FSP_R26_RESCALED_CFG = \
    'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_rescaled.py'
#: mmfsp's recommended FSP recipe (docs/fsp.md, "The ablation"): the
#: paper's with the FSP loss averaged per matrix entry and stage 1 at lr 0.1
FSP_R8_REC_CFG = 'configs/fsp/fsp_resnet26_resnet8_1xb128_fashion-mnist.py'
FSP_R26_REC_CFG = 'configs/fsp/fsp_resnet26_resnet26_1xb128_fashion-mnist.py'
SHUFFLED_R26_CFG = \
    'configs/fsp/fsp-paper_resnet26_resnet26_1xb128_fashion-mnist_shuffled-seed{}.py'
KD_R8_CFG = 'configs/kd/kd_resnet26_resnet8_1xb128_fashion-mnist.py'
FITNET_R8_CFG = {
    '1loss':
    'configs/fitnet/fitnet_resnet26_resnet8_1xb128_fashion-mnist_1loss.py',
    '3loss':
    'configs/fitnet/fitnet_resnet26_resnet8_1xb128_fashion-mnist_3loss.py',
}
FITNET_NAMES = {'1loss': 'FitNet, 1 loss (middle layer)',
                '3loss': 'FitNet, 3 loss (three stage outputs)'}
#: (d)'s settings: (label, config); the paper's D(eta, lam), TSD in every
#: generation, and the label-smoothing and confidence-penalty teachers
GENERATION_CFGS = (
    ('D(1.0, 0.0)',
     'configs/tolerant/tolerant-eta10-lam00_resnet8_1xb128_fashion-mnist.py'),
    ('D(1.0, 0.6)',
     'configs/tolerant/tolerant-eta10-lam06_resnet8_1xb128_fashion-mnist.py'),
    ('D(0.6, 0.6)',
     'configs/tolerant/tolerant-eta06-lam06_resnet8_1xb128_fashion-mnist.py'),
    ('D(0.6, 0.6), TSD in all',
     'configs/tolerant/'
     'tolerant-eta06-lam06-tsdall_resnet8_1xb128_fashion-mnist.py'),
    ('LS teacher, lam 0.6',
     'configs/tolerant/'
     'tolerant-labelsmooth-lam06_resnet8_1xb128_fashion-mnist.py'),
    ('CP teacher, lam 0.6',
     'configs/tolerant/'
     'tolerant-confpenalty-lam06_resnet8_1xb128_fashion-mnist.py'),
)
GENERATION_PATHS = frozenset(path for _, path in GENERATION_CFGS)
#: each setting's tag in run keys and file names
GENERATION_TAGS = {
    'D(1.0, 0.0)': '10_00',
    'D(1.0, 0.6)': '10_06',
    'D(0.6, 0.6)': '06_06',
    'D(0.6, 0.6), TSD in all': '06_06_all',
    'LS teacher, lam 0.6': 'ls_06',
    'CP teacher, lam 0.6': 'cp_06',
}
#: the settings of the paper's Table (the presets' default)
PAPER_GENERATION_SETTINGS = ('D(1.0, 0.0)', 'D(1.0, 0.6)', 'D(0.6, 0.6)')
ALL_GENERATION_SETTINGS = tuple(label for label, _ in GENERATION_CFGS)
#: the run whose generation 0 the plateau check trains twice as long
PLATEAU_SETTING = 'D(1.0, 0.0)'
GENERATION_SEED_STEP = 10
RESCALED_LABEL = '{}, FSP + conv norms reset at the switch (mmfsp option)'
RECOMMENDED_LABEL = '{}, FSP recommended (mean loss, stage-1 lr 0.1)'
PAPER_LABEL = '{}, FSP paper'


@dataclass(frozen=True)
class StudentGroup:
    """The seed-0 students of (a) or (b) that Figure 3 and the
    weight-norm table compare (run keys)."""

    net: str
    config: str  # the student network's plain config
    alone: str
    fsp: str  # the paper's recipe
    rescaled: str  # the paper's + conv norms reset at the switch
    recommended: str  # mmfsp's recommended recipe


STUDENT_GROUPS = {
    'a': StudentGroup('ResNet-8', R8_CFG, 'r8_alone_seed0', 'fsp_r8_seed0',
                      'fsp_r8_rescaled_seed0', 'fsp_rec_r8_seed0'),
    'b': StudentGroup('ResNet-26', TEACHER_CFG, 'r26_third_seed0',
                      'fsp_r26_seed0', 'fsp_r26_rescaled_seed0',
                      'fsp_rec_r26_seed0'),
}


@functools.lru_cache(maxsize=None)
def _parsed_config(path: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, path))


def repo_config(path: str) -> Config:
    """The config at ``path``, relative to the repository root (a copy:
    each file is parsed once per process, which takes a second or more
    for configs that inherit from ``mmpretrain::``)."""
    return copy.deepcopy(_parsed_config(path))


def model_config(path: str, preset: 'Preset') -> Config:
    """:func:`repo_config` of ``path`` with the preset's changes to its
    model: (d)'s configs at ``preset.generation_width``."""
    cfg = repo_config(path)
    if preset.generation_width != 1 and path in GENERATION_PATHS:
        width = preset.generation_width
        cfg.model.backbone.widen_factor = width
        cfg.model.head.in_channels = int(64 * width)
    return cfg


@dataclass(frozen=True)
class Preset:
    """The scale of a reproduction.

    Args:
        name (str): the preset's name.
        teacher_iters (int): the ResNet-26 teacher's iterations.
        minimisation_iters (int): (a) stage-2 iterations of every ResNet-8.
        generation_iters (int): (d) iterations per generation.
        num_generations (int): (d) generations per setting (0..N-1).
            Defaults to 3.
        seeds_minimisation (int): seeds of (a). Defaults to 1.
        seeds_fast (int): seeds of (b). Defaults to 1.
        seeds_generations (int): seeds of (d). Defaults to 1.
        test_images (int): test images every model is evaluated on (the
            first N of the 10k test set; 0 or 10000 for all). Defaults to 0.
        train_images (int): training images (first N; 0 for all 60k).
            Defaults to 0.
        batch_size (int): training batch size. Defaults to 128.
        ensemble_student (str): (c) students, 'resnet8' or 'resnet26'.
            Defaults to 'resnet8'.
        teacher_ensemble (bool): also train teachers of seeds 1 and 2 for
            (c). Defaults to False.
        curve_points (int): validations during stage 2 of the figure-3 runs.
            Defaults to 5.
        fitnet (tuple[str]): FitNet variants of (a), '1loss' and/or
            '3loss'. Defaults to ('1loss', ).
        norm_reset (bool): also train, in (a) and (b), FSP students whose
            conv weight norms are reset at the switch (the
            ``*_rescaled.py`` configs:
            ``DistillStageSwitchHook(rescale_weight_norms=True)``, an mmfsp
            option), with the seeds of the FSP students. Defaults to False.
        recommended (bool): also train, in (a) and (b), FSP students with
            mmfsp's recommended recipe (``fsp_*`` configs next to the
            paper's ``fsp-paper_*``), with the seeds of the FSP students.
            Defaults to True.
        fsp_stage1 (int): FSP stage-1 iterations; 0 for a third of the
            teacher's (the shipped configs' proportion). Defaults to 0.
        fitnet_stage1 (int): FitNet hint-stage iterations; 0 for 0.55 of
            the teacher's. Defaults to 0.
        fast_stage2 (int): (b) stage-2 iterations; 0 for a third of the
            teacher's. Defaults to 0.
        data_path (str): how training batches are made: 'tensor' (the
            in-memory path of :mod:`.fastdata`) or 'pipeline' (the configs'
            mmpretrain dataset and transforms). Defaults to 'tensor'.
        amp (bool): mixed precision (GPUs only; set by the command line
            from the device). Defaults to False.
        generation_settings (tuple[str]): (d)'s settings, labels of
            :data:`GENERATION_CFGS`. Defaults to the paper's three.
        transfer_probe (bool): (d) also probes every generation and
            ensemble with a linear classifier on another task
            (tools/analysis_tools/transfer_probe.py, scikit-learn's digits)
            and reports its accuracy as the metric ``transfer/top1``.
            Defaults to False.
        plateau_seeds (int): (d) also trains generation 0 of
            :data:`PLATEAU_SETTING` with twice the iterations for this many
            seed bases, to show how close the generations are to their
            plateau. Defaults to 0.
        experiments (tuple[str]): what the preset runs when the command
            line names no experiments. Defaults to all four.
        evaluate_on (str): 'test' (the test set) or 'validation' (training
            images 50,000-59,999, held out: ``train_images`` must be at
            most 50,000), to choose a scale or a setting without looking
            at the test set. Defaults to 'test'.
        generation_schedule (str): (d)'s learning-rate schedule per
            generation, one of :data:`GENERATION_SCHEDULES`: 'step' (the
            configs') or 'cosine' (from the configs' lr to 0 over the
            generation). Defaults to 'step'.
        generation_width (float): (d)'s networks' width multiplier (the
            CIFAR ResNet's ``widen_factor``: 0.5 for 8/16/32 channels, a
            cheaper iteration). Defaults to 1.
    """

    name: str
    teacher_iters: int
    minimisation_iters: int
    generation_iters: int
    num_generations: int = 3
    seeds_minimisation: int = 1
    seeds_fast: int = 1
    seeds_generations: int = 1
    test_images: int = 0
    train_images: int = 0
    batch_size: int = 128
    ensemble_student: str = 'resnet8'
    teacher_ensemble: bool = False
    curve_points: int = 5
    fitnet: Tuple[str, ...] = ('1loss', )
    norm_reset: bool = False
    recommended: bool = True
    fsp_stage1: int = 0
    fitnet_stage1: int = 0
    fast_stage2: int = 0
    data_path: str = 'tensor'
    amp: bool = False
    generation_settings: Tuple[str, ...] = PAPER_GENERATION_SETTINGS
    transfer_probe: bool = False
    plateau_seeds: int = 0
    experiments: Tuple[str, ...] = EXPERIMENTS
    evaluate_on: str = 'test'
    generation_schedule: str = 'step'
    generation_width: float = 1.0

    def __post_init__(self) -> None:
        from mmfsp.models.backbones import cifar_resnet_stem_channels
        try:
            cifar_resnet_stem_channels(self.generation_width)
        except ValueError as e:
            raise ValueError(f'generation_width: {e}') from None
        if self.generation_schedule not in GENERATION_SCHEDULES:
            raise ValueError(f'generation_schedule must be one of '
                             f'{GENERATION_SCHEDULES}, got '
                             f'{self.generation_schedule!r}')
        if self.evaluate_on not in ('test', 'validation'):
            raise ValueError(f'evaluate_on must be test or validation, got '
                             f'{self.evaluate_on!r}')
        if self.evaluate_on == 'validation' and not \
                0 < self.train_images <= VALIDATION_IMAGES[0]:
            raise ValueError(
                f'evaluating on the validation split (training images '
                f'{VALIDATION_IMAGES[0]:,}-{VALIDATION_IMAGES[1] - 1:,}) '
                f'needs train_images between 1 and {VALIDATION_IMAGES[0]:,} '
                f'so that no model trains on them, got {self.train_images}')
        unknown = set(self.generation_settings) - set(GENERATION_TAGS)
        if unknown or not self.generation_settings:
            raise ValueError(f'generation_settings must be among '
                             f'{list(GENERATION_TAGS)}, got '
                             f'{self.generation_settings}')
        if not set(self.experiments) <= set(EXPERIMENTS) or \
                not self.experiments:
            raise ValueError(f'experiments must be among {EXPERIMENTS}, '
                             f'got {self.experiments}')
        if self.data_path not in DATA_PATHS:
            raise ValueError(f'data_path must be one of {DATA_PATHS}, got '
                             f'{self.data_path!r}')
        if self.ensemble_student not in ('resnet8', 'resnet26'):
            raise ValueError(f'ensemble_student must be resnet8 or resnet26, '
                             f'got {self.ensemble_student!r}')
        unknown = set(self.fitnet) - set(FITNET_R8_CFG)
        if unknown or not self.fitnet:
            raise ValueError(f'fitnet variants must be among '
                             f'{sorted(FITNET_R8_CFG)}, got {self.fitnet}')
        if self.teacher_iters < 3:
            raise ValueError('teacher_iters must be at least 3')

    @property
    def fast_iters(self) -> int:
        """(b) stage-2 iterations: ``fast_stage2``, or one third of the
        teacher's."""
        return self.fast_stage2 or max(1, self.teacher_iters // 3)

    @property
    def all_test_images(self) -> bool:
        return self.test_images in (0, TEST_SET_SIZE)

    @property
    def num_test_images(self) -> int:
        return TEST_SET_SIZE if self.all_test_images else self.test_images

    def data_identity(self) -> dict:
        """What every run's result depends on besides its own settings
        (the data path and AMP only when they differ from the configs'
        pipeline in fp32, so that older work dirs stay valid)."""
        out = dict(batch_size=self.batch_size,
                   train_images=self.train_images,
                   test_images=self.num_test_images)
        if self.data_path != 'pipeline':
            out['data_path'] = self.data_path
        if self.amp:
            out['amp'] = True
        if self.transfer_probe:
            out['transfer_probe'] = True
        if self.evaluate_on != 'test':
            out['evaluate_on'] = self.evaluate_on
        if self.generation_schedule != 'step':
            out['generation_schedule'] = self.generation_schedule
        if self.generation_width != 1:
            out['generation_width'] = self.generation_width
        return out


PRESETS: Dict[str, Preset] = {
    # the tool end to end in 1.5-2 minutes (tests): tiny batches, subsets
    'smoke': Preset('smoke', teacher_iters=12, minimisation_iters=6,
                    generation_iters=4, num_generations=2, test_images=200,
                    train_images=512, batch_size=16, curve_points=3),
    # under ~15 minutes on the 2-core CPU when it is otherwise idle
    'small': Preset('small', teacher_iters=240, minimisation_iters=96,
                    generation_iters=60, num_generations=3,
                    test_images=2000),
    # under ~90 minutes there: 3 seeds for (a), 2 for (d), all test images
    'full': Preset('full', teacher_iters=1050, minimisation_iters=420,
                   generation_iters=250, num_generations=3,
                   seeds_minimisation=3, seeds_fast=1, seeds_generations=2,
                   test_images=0),
    # the papers' schedules on Fashion-MNIST, for GPUs (--plan gives the
    # time on the machine at hand): teacher 64k; FSP stage 1 21k, then
    # 64k (a) or 21k (b); FitNet hints 35k; 3 seeds; the (c) students are
    # the paper's ResNet-26 ones; 5 generations of 64k (the shipped
    # CIFAR-100 generations configs)
    'paper': Preset('paper', teacher_iters=64000, minimisation_iters=64000,
                    generation_iters=64000, num_generations=5,
                    seeds_minimisation=3, seeds_fast=3, seeds_generations=3,
                    test_images=0, ensemble_student='resnet26',
                    fsp_stage1=21000, fitnet_stage1=35000,
                    fast_stage2=21000),
    # (d) alone, converged generations in about 2 hours on 2 CPU cores
    # (docs/generations.md, "The generations preset on Fashion-MNIST"):
    # every setting, 3 seeds, 3 generations of 6,000 iterations at batch 32
    # on the first 2,000 training images (96 epochs) with a cosine
    # learning-rate decay, ResNet-8 at width x0.5 (8/16/32 channels), the
    # secondary-class metric and the transfer probe per generation, and
    # the plateau check (generation 0 twice as long). The scale was chosen
    # with tools/reproduce/plateau_probe.py on the validation split: +0.49
    # and +0.10 from twice the iterations (seeds 0 and 1), where the
    # previous scale (generations-short) gained about +4
    'generations': Preset('generations', teacher_iters=1050,
                          minimisation_iters=420, generation_iters=6000,
                          num_generations=3, seeds_generations=3,
                          train_images=2000, test_images=0, batch_size=32,
                          generation_schedule='cosine', generation_width=0.5,
                          generation_settings=ALL_GENERATION_SETTINGS,
                          transfer_probe=True, plateau_seeds=3,
                          experiments=('d', )),
    # the generations preset's previous scale (docs/generations.md, its
    # results): 3 generations of 600 iterations at batch 128 on the first
    # 6,000 training images (12.8 epochs), the configs' step schedule,
    # ResNet-8 at full width; its plateau check gained about +4 points:
    # not converged
    'generations-short': Preset('generations-short', teacher_iters=1050,
                                minimisation_iters=420,
                                generation_iters=600, num_generations=3,
                                seeds_generations=3, train_images=6000,
                                test_images=0,
                                generation_settings=ALL_GENERATION_SETTINGS,
                                transfer_probe=True, plateau_seeds=3,
                                experiments=('d', )),
}
