"""Tests for the shipped 8×8 digits: the file, the scaling, the stratified split, the targets, offline loading."""
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
import torch

import ntk_explorer as nx
from ntk_explorer.data import load_digits, make_dataset, scale_digits

# The first and last images of the UCI test set (as scikit-learn's load_digits returns them), written out by hand.
FIRST_IMAGE = [[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0], [0, 3, 15, 2, 0, 11, 8, 0],
               [0, 4, 12, 0, 0, 8, 8, 0], [0, 5, 8, 0, 0, 9, 8, 0], [0, 4, 11, 0, 1, 12, 7, 0],
               [0, 2, 14, 5, 10, 12, 0, 0], [0, 0, 6, 13, 10, 0, 0, 0]]
LAST_IMAGE = [[0, 0, 10, 14, 8, 1, 0, 0], [0, 2, 16, 14, 6, 1, 0, 0], [0, 0, 15, 15, 8, 15, 0, 0],
              [0, 0, 5, 16, 16, 10, 0, 0], [0, 0, 12, 15, 15, 12, 0, 0], [0, 4, 16, 6, 4, 16, 6, 0],
              [0, 8, 16, 10, 8, 16, 8, 0], [0, 1, 8, 12, 14, 12, 1, 0]]
COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def raw_file():
    with resources.files("ntk_explorer.data").joinpath("digits.npz").open("rb") as fh, np.load(fh) as z:
        return z["images"].copy(), z["labels"].astype(np.int64)


def test_the_shipped_file_holds_the_uci_test_set():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16
    np.testing.assert_array_equal(images[0], FIRST_IMAGE)
    np.testing.assert_array_equal(images[-1], LAST_IMAGE)
    assert labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1] and labels[-1] == 8
    assert np.bincount(labels).tolist() == COUNTS
    assert int(images.astype(np.int64).sum()) == 561718
    assert not images.flags.writeable  # the cached arrays cannot be changed by a caller


def test_two_classes_give_pm1_targets_unit_norm_inputs_and_a_balanced_split():
    d = make_dataset("digits", n_train=41, n_eval=100, classes=(3, 8), seed=2)
    assert d.x_train.shape == (41, 64) and d.x_eval.shape == (100, 64) and d.y_train.shape == (41,)
    assert d.x_train.dtype == torch.float64 and d.in_dim == 64 and d.out_dim == 1 and d.classes == (3, 8)
    np.testing.assert_allclose(torch.linalg.norm(d.x_train, dim=1).numpy(), 1.0, atol=1e-14)
    np.testing.assert_allclose(torch.linalg.norm(d.x_eval, dim=1).numpy(), 1.0, atol=1e-14)
    np.testing.assert_array_equal(d.y_train.numpy(), np.where(d.labels_train == 3, 1.0, -1.0))
    np.testing.assert_array_equal(d.y_eval.numpy(), np.where(d.labels_eval == 3, 1.0, -1.0))
    assert np.bincount(d.labels_train, minlength=10)[[3, 8]].tolist() == [21, 20]  # first class gets the extra
    assert np.bincount(d.labels_eval, minlength=10)[[3, 8]].tolist() == [50, 50]
    assert d.images_eval.shape == (100, 8, 8) and d.images_eval.dtype == np.uint8


def test_inputs_are_the_raw_pixels_scaled_and_centered_by_the_training_mean():
    images, labels = raw_file()
    d = make_dataset("digits", n_train=30, n_eval=40, classes=(1, 7), seed=5)
    rows = {img.tobytes(): label for img, label in zip(images, labels)}
    for split in ("train", "eval"):  # every image is a row of the file with its label
        assert [rows[img.tobytes()] for img in getattr(d, f"images_{split}")] == getattr(d, f"labels_{split}").tolist()
    mean = d.images_train.reshape(30, 64).astype(float).sum(axis=0) / (16.0 * 30)
    for split in ("train", "eval"):
        z = getattr(d, f"images_{split}").reshape(-1, 64) / 16.0 - mean
        expected = z / np.sqrt((z ** 2).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(getattr(d, f"x_{split}").numpy(), expected, atol=1e-14)
    # centred: the training inputs before normalisation sum to zero, so their directions are spread out
    assert abs(float((d.x_train @ d.x_train.T).mean())) < 0.1


def test_split_is_disjoint_deterministic_by_seed_and_stratified():
    a = make_dataset("digits", n_train=60, n_eval=90, classes=(0, 4, 9), seed=11)
    b = make_dataset("digits", n_train=60, n_eval=90, classes=(0, 4, 9), seed=11)
    c = make_dataset("digits", n_train=60, n_eval=90, classes=(0, 4, 9), seed=12)
    for name in ("x_train", "y_train", "x_eval", "y_eval"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.x_train, c.x_train)
    train = {img.tobytes() for img in a.images_train}
    assert not train & {img.tobytes() for img in a.images_eval}  # no image in both (the file has no duplicates)
    assert len({img.tobytes() for img in load_digits()[0]}) == 1797
    assert np.bincount(a.labels_train, minlength=10)[[0, 4, 9]].tolist() == [20, 20, 20]
    assert np.bincount(a.labels_eval, minlength=10)[[0, 4, 9]].tolist() == [30, 30, 30]


def test_k_classes_give_one_hot_rows_in_the_order_of_classes():
    d = make_dataset("digits", n_train=25, n_eval=None, classes=(7, 2, 5, 0, 9), seed=0)
    assert d.y_train.shape == (25, 5) and d.out_dim == 5
    np.testing.assert_array_equal(d.y_train.sum(dim=1).numpy(), 1.0)
    np.testing.assert_array_equal(np.asarray((7, 2, 5, 0, 9))[d.y_eval.argmax(dim=1).numpy()], d.labels_eval)
    counts = np.bincount(d.labels_eval, minlength=10)  # n_eval=None: every remaining image of the classes
    assert [counts[k] for k in (7, 2, 5, 0, 9)] == [COUNTS[k] - 5 for k in (7, 2, 5, 0, 9)]


def test_experiment_config_builds_digits_and_a_network_with_one_output_per_class():
    config = nx.ExperimentConfig(domain="digits", classes=[4, 9, 3], width=16, depth=1, n_train=9, n_eval=12)
    assert config.classes == (4, 9, 3) and config.in_dim == 64 and config.out_dim == 3
    data, model = config.dataset(), config.model(0)
    assert model(data.x_train).shape == (9, 3) and data.y_train.shape == (9, 3)
    two = nx.ExperimentConfig(domain="digits", n_train=8, n_eval=8)
    assert two.out_dim == 1 and two.dataset().classes == (3, 8)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(classes=(3, 10)), ValueError, "digits 0–9"),
    (dict(classes=(3,)), ValueError, "two distinct"),
    (dict(classes=(3, 3)), ValueError, "two distinct"),
    (dict(classes="38"), TypeError, "tuple of digit labels"),
    (dict(classes=(3.0, 8)), TypeError, "integers"),
    (dict(n_train=300, n_eval=100), ValueError, r"n_train \+ n_eval ≤ 348"),
    (dict(n_train=1), ValueError, "n_train"),
    (dict(n_eval=0), ValueError, "n_eval"),
    (dict(target="sin(t)"), ValueError, "target"),
    (dict(noise=0.1), ValueError, "noise"),
])
def test_bad_digit_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_dataset("digits", **{"n_train": 10, "n_eval": 10, **kwargs})


def test_bad_config_and_domain_arguments_raise():
    with pytest.raises(ValueError, match="digits"):
        make_dataset("mnist")
    with pytest.raises(ValueError, match="applies to domain='digits'"):
        make_dataset("circle", classes=(3, 8))
    with pytest.raises(ValueError, match="applies to domain='digits'"):
        nx.ExperimentConfig(classes=(3, 8))
    with pytest.raises(ValueError, match="do not apply"):
        nx.ExperimentConfig(domain="digits", noise=0.1)
    with pytest.raises(ValueError, match="no direction"):
        scale_digits(np.ones((2, 8, 8)), np.full(64, 1 / 16))


def test_digits_load_with_no_network_and_read_only_the_package_file():
    code = (
        "import sys, socket, ntk_explorer.data as D\n"
        "opened = []\n"
        "def hook(event, args):\n"
        "    if event == 'open' and not str(args[0]).endswith(('.py', '.pyc')): opened.append(str(args[0]))\n"
        "    if event.startswith('socket.'): raise RuntimeError('network used: ' + event)\n"
        "sys.addaudithook(hook)\n"
        "d = D.make_dataset('digits', n_train=10, n_eval=10)\n"
        "print(d.x_train.shape[0], len(opened), *opened)\n")  # files other than Python modules imported lazily
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "10" and out[1] == "1" and out[2].endswith("ntk_explorer/data/digits.npz")
