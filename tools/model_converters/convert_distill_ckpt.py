"""Extract the student of a distillation checkpoint as a plain classifier
checkpoint, loadable by the student's own config (tools/test.py, load_from,
or a later generation's teacher_ckpt).

    python tools/model_converters/convert_distill_ckpt.py \
        work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10/iter_42000.pth \
        work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10/student_final.pth
    python tools/test.py configs/resnet/resnet26_1xb128_cifar10_21k.py \
        work_dirs/fsp-paper_resnet26_resnet26_1xb128_cifar10/student_final.pth

Keeps the weights under ``architecture.`` without that prefix and the
checkpoint's ``meta`` (iteration, dataset classes), drops the teacher, the
connectors and the optimizer. Loads with ``weights_only=True``.
"""
import argparse


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Save the student of a distillation checkpoint')
    parser.add_argument('src', help='distillation checkpoint (.pth)')
    parser.add_argument('dst', help='student checkpoint to write (.pth)')
    parser.add_argument(
        '--plain-ok',
        action='store_true',
        help='also accept a plain classifier checkpoint: its weights are '
        'written as they are, without optimizer, schedulers and history '
        '(how checkpoints/*.pth were made)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import mmfsp  # noqa: F401  installs the weights_only loaders
    from mmfsp.models.algorithms import convert_distill_checkpoint
    out = convert_distill_checkpoint(args.src, args.dst,
                                     plain_ok=args.plain_ok)
    print(f'wrote {args.dst}: {len(out["state_dict"])} student tensors '
          f'(iteration {out["meta"].get("iter", "?")})')


if __name__ == '__main__':
    main()
