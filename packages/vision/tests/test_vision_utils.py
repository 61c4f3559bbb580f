"""make_grid and save_image against hand-built grids and PNG files read back with PIL."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import ember
from ember.vision.utils import make_grid, save_image


def test_make_grid_layout_by_hand():
    x = np.random.default_rng(0).random((5, 3, 4, 6)).astype(np.float32)
    g = make_grid(ember.from_numpy(x), nrow=2, padding=1, pad_value=0.5).numpy()
    # 2 columns, 3 rows: width 2*(6+1)+1, height 3*(4+1)+1
    assert g.shape == (3, 16, 15)
    for k in range(5):
        r, c = divmod(k, 2)
        np.testing.assert_array_equal(g[:, 1 + 5 * r : 5 + 5 * r, 1 + 7 * c : 7 + 7 * c], x[k])
    assert (g[:, 0, :] == 0.5).all() and (g[:, 11:15, 8:14] == 0.5).all()  # empty 6th cell


def test_make_grid_gray_normalize_and_lists():
    x = np.arange(2 * 1 * 2 * 2, dtype=np.float32).reshape(2, 1, 2, 2) * 10 - 5
    g = make_grid(ember.from_numpy(x), normalize=True, padding=0).numpy()
    assert g.shape == (3, 2, 4)
    np.testing.assert_allclose(g[0], np.concatenate([x[0, 0], x[1, 0]], axis=1) / 70 + 5 / 70)
    each = make_grid(ember.from_numpy(x), normalize=True, scale_each=True, padding=0).numpy()
    np.testing.assert_allclose(each[0, :, :2], [[0, 1 / 3], [2 / 3, 1]], rtol=1e-6)
    clipped = make_grid(ember.from_numpy(x), normalize=True, value_range=(0, 10), padding=0)
    assert clipped.numpy().min() == 0 and clipped.numpy().max() == 1
    lst = make_grid([ember.from_numpy(x[0]), ember.from_numpy(x[1])], padding=0)
    np.testing.assert_array_equal(lst.numpy()[1], np.concatenate([x[0, 0], x[1, 0]], axis=1))
    single = make_grid(ember.from_numpy(x[:1]))
    assert tuple(single.shape) == (3, 2, 2)
    with pytest.raises(ValueError, match="differ in shape"):
        make_grid([ember.zeros(1, 2, 2), ember.zeros(1, 3, 3)])
    with pytest.raises(ValueError, match="nrow"):
        make_grid(ember.zeros(2, 1, 2, 2), nrow=0)


def test_save_image_png_roundtrip(tmp_path):
    x = np.random.default_rng(1).random((4, 3, 5, 7)).astype(np.float32)
    path = tmp_path / "grid.png"
    save_image(ember.from_numpy(x), str(path), nrow=4, padding=2)
    img = Image.open(path)
    assert img.format == "PNG" and img.mode == "RGB" and img.size == (4 * 9 + 2, 9)
    got = np.asarray(img)
    ref = np.clip(x[2] * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(got[2:7, 2 + 18 : 9 + 18], ref)
    buf = io.BytesIO()
    save_image(ember.from_numpy(x[0]), buf)
    assert Image.open(io.BytesIO(buf.getvalue())).format == "PNG"


def test_draw_bounding_boxes_outline_and_fill():
    from ember.vision.utils import draw_bounding_boxes

    img = ember.zeros(3, 10, 12, dtype=ember.uint8)
    out = draw_bounding_boxes(img, ember.tensor([[2.0, 1.0, 8.0, 6.0]]), colors="red").numpy()
    assert out.dtype == np.uint8 and out.shape == (3, 10, 12)
    red = (out[0] == 255) & (out[1] == 0) & (out[2] == 0)
    ref = np.zeros((10, 12), bool)
    ref[1, 2:9] = ref[6, 2:9] = ref[1:7, 2] = ref[1:7, 8] = True  # the 1-pixel outline
    assert (red == ref).all()
    assert img.numpy().max() == 0  # the input is untouched
    filled = draw_bounding_boxes(
        img, ember.tensor([[2.0, 1.0, 8.0, 6.0]]), colors=(0, 0, 200), fill=True
    )
    inside = filled.numpy()[:, 3, 5]
    assert inside[2] == round(200 * 100 / 255) and inside[:2].tolist() == [0, 0]
    gray = draw_bounding_boxes(ember.zeros(1, 5, 5, dtype=ember.uint8), ember.zeros(0, 4))
    assert tuple(gray.shape) == (3, 5, 5)
    with pytest.raises(ValueError, match="x1 <= x2"):
        draw_bounding_boxes(img, ember.tensor([[5.0, 0.0, 1.0, 3.0]]))
    with pytest.raises(ValueError, match="uint8"):
        draw_bounding_boxes(ember.zeros(3, 4, 4), ember.zeros(0, 4))
