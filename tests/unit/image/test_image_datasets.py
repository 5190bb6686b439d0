import numpy as np
import pytest

from speechdis.errors import ConfigError
from speechdis.image.datasets import (
    BACKGROUND_COLOURS,
    DIGIT_COLOURS,
    SHAPE_FACTOR_SIZES,
    SHAPE_FACTORS,
    few_labels,
    load_digits_images,
    make_shapes,
    render_shapes,
    shape_position,
    shift_domain,
    split_indices,
)


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(600, seed=3)


def test_shapes_deterministic_and_in_range(shapes):
    again = make_shapes(600, seed=3)
    assert np.array_equal(shapes.images, again.images) and np.array_equal(shapes.factors, again.factors)
    assert not np.array_equal(make_shapes(600, seed=4).factors, shapes.factors)
    assert shapes.images.shape == (600, 3, 16, 16) and shapes.images.dtype == np.float32
    assert 0.0 <= shapes.images.min() and shapes.images.max() <= 1.0
    assert shapes.factors.shape == (600, len(SHAPE_FACTORS))
    for k, size in enumerate(SHAPE_FACTOR_SIZES):
        assert set(np.unique(shapes.factors[:, k])) == set(range(size))  # every value occurs


def test_position_factor_puts_centre_of_mass_where_expected(shapes):
    ys, xs = np.mgrid[0:16, 0:16] + 0.5  # pixel centres
    m = shapes.masks
    cx = (m * xs).sum((1, 2)) / m.sum((1, 2))
    cy = (m * ys).sum((1, 2)) / m.sum((1, 2))
    assert np.abs(cx - shape_position(shapes.factors[:, 3])).max() < 0.25
    assert np.abs(cy - shape_position(shapes.factors[:, 4])).max() < 0.25
    # The shape never touches the border, so position is the only thing moving the centre.
    assert m[:, 0, :].max() == 0 and m[:, -1, :].max() == 0 and m[:, :, 0].max() == 0 and m[:, :, -1].max() == 0


def test_scale_colour_and_background_factors():
    base = np.array([[0, 0, 0, 2, 2, 1, 2]])
    f = np.repeat(base, 3, axis=0)
    f[:, 1] = [0, 1, 2]  # scale
    images, masks = render_shapes(f)
    areas = masks.sum((1, 2))
    assert areas[0] < areas[1] < areas[2]
    # Fully covered pixels take the colour factor's RGB, uncovered ones the background's.
    full, empty = masks[2] == 1.0, masks[2] == 0.0
    from speechdis.image.datasets import _BACKGROUNDS, _COLOURS

    assert np.allclose(images[2][:, full].T, _COLOURS[1])
    assert np.allclose(images[2][:, empty].T, _BACKGROUNDS[2])


def test_shape_and_rotation_change_the_mask():
    f = np.array([[s, 2, r, 2, 2, 0, 0] for s in range(3) for r in range(4)])
    _, masks = render_shapes(f)
    flat = masks.reshape(len(f), -1)
    dist = np.abs(flat[:, None] - flat[None]).sum(-1)
    assert (dist[~np.eye(len(f), dtype=bool)] > 0.5).all()  # all 12 (shape, rotation) pairs look different


def test_render_rejects_bad_factors():
    with pytest.raises(ConfigError):
        render_shapes(np.array([[3, 0, 0, 0, 0, 0, 0]]))
    with pytest.raises(ConfigError):
        render_shapes(np.zeros((2, 3), int))


def test_digits_and_domains():
    x, y = load_digits_images(16)
    assert x.shape == (1797, 1, 16, 16) and y.shape == (1797,) and 0 <= x.min() and x.max() <= 1
    out, style = shift_domain(x[:50], "coloured", seed=1)
    assert out.shape == (50, 3, 16, 16)
    # Where the digit has no ink the pixel is exactly the chosen background colour.
    i = 0
    blank = x[i, 0] == 0
    assert np.allclose(out[i][:, blank].T, BACKGROUND_COLOURS[style[i, 1]])
    assert style[:, 0].max() < len(DIGIT_COLOURS)
    inv, _ = shift_domain(x[:5], "inverted")
    assert np.allclose(inv, 1 - np.repeat(x[:5], 3, 1))
    tex, _ = shift_domain(x[:5], "textured", seed=0)
    assert tex.shape == (5, 3, 16, 16) and 0 <= tex.min() and tex.max() <= 1
    with pytest.raises(ConfigError):
        shift_domain(x[:5], "sepia")


def test_splits_and_few_labels():
    a, b, c = split_indices(100, (0.5, 0.3, 0.2), seed=0)
    assert len(a) + len(b) + len(c) == 100 and len(set(a) | set(b) | set(c)) == 100
    y = np.repeat(np.arange(10), 20)
    idx = few_labels(y, 3, seed=0)
    assert np.array_equal(np.bincount(y[idx]), np.full(10, 3))
    with pytest.raises(ConfigError):
        few_labels(y, 21)
