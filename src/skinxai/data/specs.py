"""Named image sets: ``fanconic:train``, ``ham10000:test``, or a folder-per-class path.

One parser so that training, evaluation and benchmarks name their data the same way.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Sequence
from pathlib import Path

from skinxai.data.folder import LabelledImage, list_labelled_images
from skinxai.data.ham10000 import HamRecord, read_ham_records
from skinxai.data.paths import list_images, shared_data_dir
from skinxai.data.splits import SPLITS, read_ham_split

# The data sets stored as ``<name>/<split>/{benign,malignant}/`` under the shared data folder.
FOLDER_SETS = ("fanconic", "isic2017", "melanoma10k")


def resolve_spec(spec: str) -> list[LabelledImage]:
    """The labelled images a spec names, in a stable order.

    ``fanconic:SPLIT`` / ``isic2017:SPLIT`` / ``melanoma10k:train|val`` read
    ``shared/data/<name>/SPLIT``, ``derm7pt`` the
    external set (folder-per-class); ``ham10000:SPLIT`` one split of the
    committed grouped manifest (``ham10000`` alone: every image); ``list:FILE`` a CSV written
    by :func:`write_image_list`; ``A~B`` the images of set A that are near-duplicates of an
    image of set B (``fanconic:train~ham10000:val``: fanconic's processed copies of HAM10000
    validation lesions, a validation source of their own); anything else is a folder-per-class
    path.
    """
    if "~" in spec and not Path(spec).is_dir():
        return near_duplicates_within(spec)
    name, _, split = spec.partition(":")
    if name == "list" and split:
        return read_image_list(split)
    if name in FOLDER_SETS and split:
        return list_labelled_images(shared_data_dir() / name / split)
    if spec == "derm7pt":
        return list_labelled_images(shared_data_dir() / "derm7pt")
    if name == "ham10000":
        return [LabelledImage(r.image_path, r.label) for r in ham_split_records(split)]
    path = Path(spec)
    if not path.is_dir():
        raise FileNotFoundError(
            f"'{spec}' is neither a folder nor a known set (fanconic:train, ham10000:test, ...)"
        )
    return list_labelled_images(path)


def near_duplicates_within(spec: str) -> list[LabelledImage]:
    """``A~B``: the images of A with a near-duplicate in B, labelled as A labels them."""
    from skinxai.data.audit import find_near_duplicates

    first, _, second = spec.partition("~")
    if not first or not second or "~" in second:
        raise ValueError(f"'{spec}' must name two sets as A~B")
    samples = resolve_spec(first)
    result = find_near_duplicates([s.path for s in samples], resolve_paths(second))
    copies = result.images_a_with_duplicate
    return [s for s in samples if s.path in copies]


def ham_split_records(split: str) -> list[HamRecord]:
    """HAM10000's records in one split of the committed grouped manifest ('' for all)."""
    if split and split not in SPLITS:
        raise ValueError(f"unknown HAM10000 split {split!r}; expected one of {SPLITS}")
    records = read_ham_records(shared_data_dir() / "ham10000")
    if split:
        assignment = read_ham_split()
        records = [r for r in records if assignment[r.image_id] == split]
    return records


def lesion_groups(paths: Sequence[Path]) -> list[str]:
    """The lesion each image shows, for resampling by lesion: a HAM10000 image's
    ``lesion_id`` (several photographs of one lesion are one group), any other image alone."""
    try:
        records = read_ham_records(shared_data_dir() / "ham10000")
    except FileNotFoundError:  # no shared data here: every image is its own lesion
        records = []
    lesion_of = {r.image_path.resolve(): r.lesion_id for r in records}
    return [lesion_of.get(Path(path).resolve(), f"image:{path}") for path in paths]


def resolve_paths(spec: str) -> list[Path]:
    """Image paths a spec names; a plain folder need not be folder-per-class here."""
    path = Path(spec)
    if path.is_dir() and not all((path / name).is_dir() for name in ("benign", "malignant")):
        return list_images(path)
    return [sample.path for sample in resolve_spec(spec)]


def resolve_specs(specs: list[str]) -> list[LabelledImage]:
    """The concatenation of several specs, in the order given."""
    return [sample for spec in specs for sample in resolve_spec(spec)]


def write_image_list(samples: Sequence[LabelledImage], path: str | os.PathLike) -> None:
    """Write ``path,label`` rows, paths relative to the shared data folder when inside it."""
    root = shared_data_dir()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path", "label"])
        for sample in samples:
            try:
                name = sample.path.resolve().relative_to(root).as_posix()
            except ValueError:
                name = str(sample.path)
            writer.writerow([name, sample.label])


def read_image_list(path: str | os.PathLike) -> list[LabelledImage]:
    """Read a CSV of ``path,label``; relative paths are under the shared data folder."""
    root = shared_data_dir()
    with open(path, newline="") as handle:
        return [
            LabelledImage(root / row["path"], int(row["label"])) for row in csv.DictReader(handle)
        ]


def read_path_list(path: str | os.PathLike) -> list[Path]:
    """The ``path`` column of a ``list:`` CSV (a ``label`` column, if any, is not needed):
    the images of an archive to predict or explain, relative paths under the shared data
    folder as in :func:`read_image_list`."""
    root = shared_data_dir()
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if "path" not in (reader.fieldnames or []):
            raise ValueError(f"'{path}' has no 'path' column (a list: CSV needs one)")
        return [root / row["path"] for row in reader if row["path"]]


def input_paths(spec: str) -> list[Path]:
    """The images a ``list:FILE`` CSV or a named set (``ham10000:test``, ``derm7pt``) holds,
    labels unused: what ``predict`` and ``explain`` accept besides files and folders."""
    name, _, rest = spec.partition(":")
    if name == "list" and rest:
        return read_path_list(rest)
    return [sample.path for sample in resolve_spec(spec)]


def stratified_subset(
    samples: Sequence[LabelledImage], size: int, seed: int
) -> list[LabelledImage]:
    """A seeded random subset of ``size`` samples keeping the class proportions."""
    if size >= len(samples):
        return list(samples)
    rng = random.Random(seed)
    by_label: dict[int, list[LabelledImage]] = {}
    for sample in samples:
        by_label.setdefault(sample.label, []).append(sample)
    chosen: list[LabelledImage] = []
    for _label, group in sorted(by_label.items()):
        share = max(1, round(size * len(group) / len(samples)))
        chosen.extend(rng.sample(group, min(share, len(group))))
    return sorted(chosen[:size], key=lambda s: str(s.path))
