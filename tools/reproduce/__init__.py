"""Reproduction of the FSP paper's (Yim et al., CVPR 2017) and the
tolerant-teacher paper's (Yang et al., AAAI 2019) claims on Fashion-MNIST,
scaled down for a CPU or at the papers' schedules (the ``paper`` preset,
for GPUs); independent runs train in parallel worker processes.
``python tools/reproduce.py`` is its command line and docs/reproduction.md
its guide.

Experiments (every model is a shipped Fashion-MNIST config whose schedule is
scaled, keeping its shape; batch 128 except in the smoke preset):

(a) **Network minimisation** (FSP paper, Table 3): a ResNet-26 teacher, then
    ResNet-8 students trained alone, with FSP (stage 1 FSP loss, stage 2
    cross-entropy), with FitNet (hints, then cross-entropy + KD; "1 loss" =
    the middle layer by default, ``fitnet=('1loss', '3loss')`` adds the three
    stage outputs) and with Hinton KD, all with the *same stage-2 iterations*
    (KD and the student alone have only that stage). Stage 1 keeps its
    config's length relative to the *teacher's* schedule, as in the paper,
    whose stage 1 does not depend on the student's stage 2: FSP 1/3 of the
    teacher's iterations (21k of 64k), FitNet 0.55 (35k of 64k).
(b) **Fast optimisation** (Table 1/2): a ResNet-26 FSP student whose stage 2
    has one third of the teacher's iterations (stage 1 as long, as the
    shipped config), against the teacher and against ResNet-26 trained alone
    for that third.
(c) **Shuffled FSP for diverse students** (Section 4.4): three FSP students
    whose stage 1 learns the teacher's FSP matrices with channels permuted
    by shuffle seeds 1, 2, 3, against three plain FSP students; student
    ``i`` of both groups uses training seed ``i``, so shuffling is the only
    difference. Single accuracies, the mean-softmax ensemble
    (``EnsembleClassifier``), the mean pairwise disagreement of the
    students' predictions and the mean pairwise correlation of their
    correctness (the claim: shuffled students are less correlated, so their
    ensemble gains more). The students are ResNet-8 (the (a) setting, cheap;
    the default) or ResNet-26 (the paper's, the (b) setting;
    ``ensemble_student='resnet26'``); the plain students are the (a) or (b)
    FSP runs of seeds 0-2. Optionally the ensemble of three teachers (seeds
    0-2, ``teacher_ensemble=True``).
(d) **Tolerant teacher generations** (Yang et al.): D(1.0, 0.0), D(1.0, 0.6)
    and D(0.6, 0.6) with ResNet-8
    (configs/tolerant/*_resnet8_1xb128_fashion-mnist.py): every
    generation a run of its own (tools/generations'
    ``build_generation_config``), every ensemble of generations 0..g an
    ensemble test. Seed bases 0, 10, 20 (generation ``g`` of base ``b``
    trains with seed ``b + g``, so runs of different bases never share a
    seed). A generation 0 that several settings train identically
    (D(1.0, 0.0) and D(1.0, 0.6): plain cross-entropy) is trained once.

The teacher (seed 0) is shared by (a)-(c); seeds vary the students. Rows
give the mean over seeds, the sample standard deviation, min-max and the
number of seeds. Every model is tested on the same test images: all 10,000,
or in the quick presets a fixed subset (the first N of the test set).

Modules: :mod:`.presets` (the scales and the configs used), :mod:`.plan`
(the runs, what each waits for, their time estimates), :mod:`.devices`
(CPU or GPUs, workers per device, AMP, the cost models), :mod:`.scheduler`
(the executor of a graph of runs over worker processes, with the progress
line), :mod:`.worker` (what a worker does for a run), :mod:`.fastdata`
(the in-memory training batches), :mod:`.store` (the run-once store of
finished runs), :mod:`.configs` (each run's runner config), :mod:`.runs`
(the reproduction), :mod:`.stats`, :mod:`.report`, :mod:`.markdown` and
:mod:`.figures` (tables, results.md, figure3.png and generations.png);
``speed_probe.py`` measures where an iteration's time goes.
"""
