"""VOCSegmentation and VOCDetection from a VOCtrainval-style tar written here."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from ember.hub import HashMismatchError
from ember.vision.datasets import DatasetNotFoundError, VOCDetection, VOCSegmentation, voc

IDS = ["2008_000002", "2008_000003", "2008_000007"]
COLORS = {"2008_000002": (250, 10, 10), "2008_000003": (10, 250, 10), "2008_000007": (10, 10, 250)}

XML_TWO = """<annotation>
    <folder>VOC2012</folder>
    <filename>2008_000003.jpg</filename>
    <source>
        <database>The VOC2008 Database</database><annotation>PASCAL VOC2008</annotation>
    </source>
    <size><width>20</width><height>16</height><depth>3</depth></size>
    <segmented>1</segmented>
    <object>
        <name>person</name><pose>Right</pose><truncated>0</truncated><difficult>0</difficult>
        <bndbox><xmin>2</xmin><ymin>3</ymin><xmax>11</xmax><ymax>14</ymax></bndbox>
        <part><name>head</name><bndbox><xmin>4</xmin><ymin>3</ymin><xmax>7</xmax><ymax>6</ymax></bndbox></part>
        <part><name>hand</name><bndbox><xmin>9</xmin><ymin>8</ymin><xmax>10</xmax><ymax>9</ymax></bndbox></part>
    </object>
    <object>
        <name>bicycle</name><pose>Unspecified</pose><truncated>1</truncated><difficult>1</difficult>
        <bndbox><xmin>12</xmin><ymin>1</ymin><xmax>19</xmax><ymax>15</ymax></bndbox>
        <occluded/>
    </object>
</annotation>
"""

XML_ONE = """<annotation><filename>{id}.jpg</filename><segmented>0</segmented>
<object><name>cat</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>
</annotation>"""


def _mask(seed):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 21, (16, 20), dtype=np.uint8)
    m[0, :] = 255  # the "void" border label
    return m


def _voc_tar(base="VOCdevkit/VOC2012"):
    files = {
        f"{base}/ImageSets/Segmentation/train.txt": "2008_000002\n2008_000007\n",
        f"{base}/ImageSets/Segmentation/val.txt": "2008_000003\n",
        f"{base}/ImageSets/Main/train.txt": "2008_000003\n2008_000007\n",
        f"{base}/ImageSets/Main/val.txt": "2008_000002\n",
        f"{base}/Annotations/2008_000003.xml": XML_TWO,
    }
    for i in ("2008_000002", "2008_000007"):
        files[f"{base}/Annotations/{i}.xml"] = XML_ONE.format(id=i)
    masks = {}
    for k, i in enumerate(IDS):
        b = io.BytesIO()
        Image.new("RGB", (20, 16), COLORS[i]).save(b, "JPEG", quality=95)
        files[f"{base}/JPEGImages/{i}.jpg"] = b.getvalue()
        masks[i] = _mask(k)
        png = Image.fromarray(masks[i], mode="P")
        png.putpalette([v for c in range(256) for v in (c, 255 - c, (7 * c) % 256)])
        b = io.BytesIO()
        png.save(b, "PNG")
        files[f"{base}/SegmentationClass/{i}.png"] = b.getvalue()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue(), masks


@pytest.fixture
def voc2012(server, monkeypatch):
    archive, masks = _voc_tar()
    server.files["/voc/VOCtrainval_11-May-2012.tar"] = archive
    table = dict(voc.DATASET_YEAR_DICT)
    _, name, _, base = table["2012"]
    urls = [server.url + "/official/" + name, server.url + "/voc/" + name]
    table["2012"] = (urls, name, hashlib.md5(archive).hexdigest(), base)
    monkeypatch.setattr(voc, "DATASET_YEAR_DICT", table)
    return archive, masks


def test_voc_segmentation_download_and_masks(tmp_path, server, voc2012):
    _, masks = voc2012
    ds = VOCSegmentation(tmp_path, year="2012", image_set="train", download=True)
    assert server.hits["/official/VOCtrainval_11-May-2012.tar"] == 1  # tried first, 404
    assert len(ds) == 2 and [os.path.basename(p) for p in ds.images] == [
        "2008_000002.jpg",
        "2008_000007.jpg",
    ]
    img, mask = ds[1]
    assert img.mode == "RGB" and img.size == (20, 16)
    assert np.abs(np.array(img.getpixel((3, 3))) - COLORS["2008_000007"]).max() <= 3
    assert mask.mode == "P" and np.array_equal(np.array(mask), masks["2008_000007"])
    val = VOCSegmentation(tmp_path, image_set="val")
    assert np.array_equal(np.array(val[0][1]), masks["2008_000003"])
    both = VOCSegmentation(tmp_path, transforms=lambda i, m: (i.size, np.array(m)[0, 0]))
    assert both[0] == ((20, 16), 255)


def test_voc_detection_nested_dict(tmp_path, server, voc2012):
    ds = VOCDetection(tmp_path, image_set="train", download=True)
    img, target = ds[0]
    assert img.size == (20, 16)
    ann = target["annotation"]
    assert ann["filename"] == "2008_000003.jpg" and ann["size"] == {
        "width": "20",
        "height": "16",
        "depth": "3",
    }
    assert ann["source"] == {"database": "The VOC2008 Database", "annotation": "PASCAL VOC2008"}
    person, bike = ann["object"]
    assert person["bndbox"] == {"xmin": "2", "ymin": "3", "xmax": "11", "ymax": "14"}
    assert [p["name"] for p in person["part"]] == ["head", "hand"]
    assert person["part"][1]["bndbox"]["xmax"] == "10"
    assert bike["difficult"] == "1" and "occluded" not in bike  # empty leaves are dropped
    _, one = ds[1]
    objs = one["annotation"]["object"]
    assert isinstance(objs, list) and len(objs) == 1 and objs[0]["name"] == "cat"
    empty = voc.parse_voc_xml(ET.fromstring("<annotation><filename>x</filename></annotation>"))
    assert empty == {"annotation": {"filename": "x", "object": []}}
    assert len(VOCDetection(tmp_path, image_set="val")) == 1


def test_voc_corrupt_archive_refused_and_errors(tmp_path, server, voc2012):
    archive, _ = voc2012
    corrupt = archive[:2000] + b"X" + archive[2001:]
    for where in ("official", "voc"):
        server.files[f"/{where}/VOCtrainval_11-May-2012.tar"] = corrupt
    with pytest.raises(HashMismatchError):
        VOCSegmentation(tmp_path, download=True)
    assert not (tmp_path / "VOCdevkit").exists()
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        VOCDetection(tmp_path)
    with pytest.raises(ValueError, match="image_set must be one of"):
        VOCSegmentation(tmp_path, year="2012", image_set="test")
    with pytest.raises(ValueError, match="year must be one of"):
        VOCSegmentation(tmp_path, year="2013")
    server.files["/voc/VOCtrainval_11-May-2012.tar"] = archive
    ds = VOCDetection(tmp_path, download=True)
    with open(ds.annotations[0], "w") as f:
        f.write("<annotation><object>")
    with pytest.raises(ValueError, match="not valid XML"):
        ds[0]


def test_voc2007_test_uses_its_own_archive(tmp_path, server, monkeypatch):
    archive, masks = _voc_tar("VOCdevkit/VOC2007")
    table = dict(voc.DATASET_YEAR_DICT)
    _, name, _, base = table["2007-test"]
    table["2007-test"] = ([server.url + "/" + name], name, hashlib.md5(archive).hexdigest(), base)
    server.files["/" + name] = archive
    monkeypatch.setattr(voc, "DATASET_YEAR_DICT", table)
    # The 2007 test split lists its ids in test.txt; reuse the tar with a renamed list.
    with pytest.raises(DatasetNotFoundError, match="test.txt"):
        VOCSegmentation(tmp_path, year="2007", image_set="test", download=True)
    assert server.hits["/" + name] == 1
    (tmp_path / "VOCdevkit/VOC2007/ImageSets/Segmentation/test.txt").write_text("2008_000003\n")
    ds = VOCSegmentation(tmp_path, year="2007", image_set="test")
    assert np.array_equal(np.array(ds[0][1]), masks["2008_000003"])
