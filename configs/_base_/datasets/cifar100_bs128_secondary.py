# CIFAR-100, batch 128, pad 4 + crop + flip, evaluated with top-1/top-5
# accuracy and mmfsp's SecondaryClassMetric (superclass agreement of the
# secondary classes; the fine-to-coarse map is read from
# data/cifar100/cifar-100-python/test).
_base_ = ['./cifar100_bs128.py']
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='SecondaryClassMetric', k=4, data_root='data/cifar100'),
]
test_evaluator = val_evaluator
