# Fashion-MNIST, batch 128, evaluated with top-1 accuracy and mmfsp's
# SecondaryClassMetric on mmfsp's grouping of the 10 classes
# (mmfsp.evaluation.fashion_mnist_fine_to_coarse(); docs/generations.md,
# "The secondary-class metric on Fashion-MNIST"):
#   0 upper-body garments: T-shirt/top, Pullover, Dress, Coat, Shirt
#   1 trousers: Trouser (alone: its images are left out of the metric)
#   2 footwear: Sandal, Sneaker, Ankle boot
#   3 bags: Bag (alone: left out)
# k=2 secondary classes: the other classes of the smallest group with
# look-alikes (footwear), so 1.0 is reachable for every counted image.
_base_ = ['./fashion_mnist_bs128.py']
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(
        type='SecondaryClassMetric',
        k=2,
        fine_to_coarse=[0, 1, 0, 0, 0, 2, 0, 2, 3, 2]),
]
test_evaluator = val_evaluator
